/**
 * Loads an upstream's OpenAPI 3.0 or 3.1 document, all or nothing: YAML or JSON with positions,
 * aliases capped (S10: no billion laughs), only local `$ref`s (S10: no fetch, no file read at a
 * document's say-so), every reference resolved. Any problem is a config error naming the file, the
 * line and the JSON pointer; the gateway never validates against a half-loaded document.
 */
import { readFile, stat } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError, locate, type ConfigProblem } from '../../../config/load.ts';
import { pointerSegment } from '../../../core/body/json.ts';

export interface OpenApiDocument {
  /** As given in the config (for messages). */
  readonly file: string;
  readonly version: '3.0' | '3.1';
  readonly root: Record<string, unknown>;
  /** A config problem at a JSON pointer of the document, with its line and column. */
  problem(pointer: string, message: string): ConfigProblem;
}

/** S10: at most this many alias expansions in a document. */
export const MAX_ALIASES = 100;
export const MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

/** The dialects a 3.1 document may declare for its schemas (OAS 3.1 §4.8.1 `jsonSchemaDialect`). */
const DIALECTS = new Set(['https://spec.openapis.org/oas/3.1/dialect/base', 'https://json-schema.org/draft/2020-12/schema']);

export async function loadOpenApi(file: string, absolute: string): Promise<OpenApiDocument> {
  const fail = (message: string): never => {
    throw new ConfigError([{ file, line: 0, col: 0, path: '', message, severity: 'error' }]);
  };
  let text = '';
  try {
    const info = await stat(absolute);
    if (info.size > MAX_DOCUMENT_BYTES) fail(`OpenAPI document larger than ${MAX_DOCUMENT_BYTES} bytes`);
    text = await readFile(absolute, 'utf8');
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    fail((err as NodeJS.ErrnoException).code === 'ENOENT' ? 'OpenAPI document not found' : 'OpenAPI document cannot be read');
  }
  return parseOpenApi(text, file);
}

export function parseOpenApi(text: string, file: string): OpenApiDocument {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true });
  const problems: ConfigProblem[] = [];
  const at = (pointer: string, message: string) => {
    const { line, col } = locate(doc, lc, fromPointer(pointer));
    problems.push({ file, line, col, path: `#${pointer}`, message, severity: 'error' });
  };
  for (const e of doc.errors) {
    const pos = lc.linePos(e.pos[0]);
    problems.push({ file, line: pos.line, col: pos.col, path: '', message: e.message.split('\n')[0] ?? 'YAML error', severity: 'error' });
  }
  if (problems.length) throw new ConfigError(problems);
  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    throw new ConfigError([{ file, line: 1, col: 1, path: '', message: `OpenAPI document refused: ${(err as Error).message}`, severity: 'error' }]);
  }
  if (!isObject(root)) throw new ConfigError([{ file, line: 1, col: 1, path: '', message: 'an OpenAPI document must be a mapping', severity: 'error' }]);
  const v = root.openapi;
  const version = typeof v === 'string' && /^3\.0\.\d+$/.test(v) ? '3.0' : typeof v === 'string' && /^3\.1\.\d+$/.test(v) ? '3.1' : undefined;
  if (version === undefined) at('/openapi', 'must be an OpenAPI version 3.0.x or 3.1.x');
  if (!isObject(root.paths) && !(version === '3.1' && isObject(root.webhooks))) at('/paths', 'the document has no paths');
  const dialect = root.jsonSchemaDialect;
  if (dialect !== undefined && (typeof dialect !== 'string' || !DIALECTS.has(dialect))) at('/jsonSchemaDialect', 'only the OpenAPI 3.1 base dialect (JSON Schema 2020-12) is supported');
  checkReferences(root, root, '', at, new Set());
  if (problems.length) throw new ConfigError(problems);
  return { file, version: version ?? '3.1', root, problem: (pointer, message) => ({ ...locate(doc, lc, fromPointer(pointer)), file, path: `#${pointer}`, message, severity: 'error' }) };
}

/** S10: every `$ref` is a local JSON pointer that resolves; `$dynamicRef` and external refs are refused. */
function checkReferences(root: Record<string, unknown>, node: unknown, pointer: string, at: (p: string, m: string) => void, seen: Set<unknown>): void {
  if (node === null || typeof node !== 'object' || seen.has(node)) return;
  seen.add(node);
  if (Array.isArray(node)) {
    node.forEach((item, i) => checkReferences(root, item, `${pointer}/${i}`, at, seen));
    return;
  }
  const obj = node as Record<string, unknown>;
  for (const [k, v] of Object.entries(obj)) {
    const here = `${pointer}/${pointerSegment(k)}`;
    if (k === '$ref' && typeof v === 'string') {
      if (!v.startsWith('#')) at(here, `only local references are supported (S10): "${v.slice(0, 200)}" points outside the document`);
      else if (v !== '#' && !v.startsWith('#/')) at(here, `only JSON-pointer references are supported: "${v.slice(0, 200)}"`);
      else if (resolvePointer(root, v) === undefined) at(here, `unresolved reference "${v.slice(0, 200)}"`);
      continue;
    }
    if (k === '$dynamicRef' || k === '$recursiveRef') {
      at(here, `${k} is not supported`);
      continue;
    }
    checkReferences(root, v, here, at, seen);
  }
}

/** RFC 6901 evaluation of a `#/…` fragment; undefined when it does not resolve. */
export function resolvePointer(root: unknown, ref: string): unknown {
  let node: unknown = root;
  for (const seg of fromPointer(decodeURIComponentSafe(ref.slice(1)))) {
    if (Array.isArray(node) && /^(0|[1-9]\d*)$/.test(String(seg))) node = node[Number(seg)];
    else if (isObject(node) && Object.hasOwn(node, seg)) node = node[seg];
    else return undefined;
  }
  return node;
}

/** Pointer segments, unescaped (RFC 6901 §4). */
export function fromPointer(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
