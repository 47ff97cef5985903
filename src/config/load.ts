/**
 * Loads rampart.yaml: YAML with positions → strict schema (every error at once) → semantic checks.
 * Every problem is reported as `file:line:col: path: message` (rampart.yaml:14:13: routes[2].upstream:
 * unknown upstream "ordrs").
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { LineCounter, parseDocument, isMap, isScalar, isPair, type Document, type Node } from 'yaml';
import type { StageModule } from '../core/stage.ts';
import { buildRootSchema } from './schema.ts';
import { semanticChecks } from './semantic.ts';
import type { RootConfig } from './types.ts';

export interface ConfigProblem {
  readonly file: string;
  readonly line: number;
  readonly col: number;
  /** e.g. routes[2].upstream */
  readonly path: string;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

export function formatProblem(p: ConfigProblem): string {
  const where = p.line > 0 ? `${p.file}:${p.line}:${p.col}` : p.file;
  const tag = p.severity === 'warning' ? 'warning: ' : '';
  return p.path ? `${where}: ${tag}${p.path}: ${p.message}` : `${where}: ${tag}${p.message}`;
}

export class ConfigError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(problems.filter((p) => p.severity === 'error').map(formatProblem).join('\n'));
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

export interface LoadedConfig {
  readonly file: string;
  /** Directory of the config file: relative paths in it resolve from there. */
  readonly baseDir: string;
  readonly config: RootConfig;
  readonly warnings: readonly ConfigProblem[];
}

/** YAML aliases are capped (S10: no billion-laughs through the config either). */
const MAX_ALIASES = 100;

export type Segment = string | number;

export function formatPath(segments: readonly Segment[]): string {
  let out = '';
  for (const s of segments) out += typeof s === 'number' ? `[${s}]` : out ? `.${s}` : s;
  return out;
}

/** Finds where a path points in the YAML document: the value node, or its key for missing keys. */
export function locate(doc: Document, lc: LineCounter, segments: readonly Segment[], preferKey = false): { line: number; col: number } {
  let node: unknown = doc.contents;
  let keyNode: Node | undefined;
  for (const seg of segments) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isPair(it) && isScalar(it.key) && String(it.key.value) === String(seg));
      if (!pair) break;
      keyNode = pair.key as Node;
      node = pair.value;
    } else if (node && typeof node === 'object' && 'items' in node && Array.isArray((node as { items: unknown[] }).items)) {
      const item = (node as { items: unknown[] }).items[Number(seg)];
      if (item === undefined) break;
      keyNode = undefined;
      node = item;
    } else break;
  }
  const target = (preferKey && keyNode) || (node as Node | undefined) || keyNode;
  const offset = target && 'range' in target && target.range ? target.range[0] : 0;
  const pos = lc.linePos(offset);
  return { line: pos.line, col: pos.col };
}

export function ajvMessage(e: ErrorObject): { segments: Segment[]; message: string; preferKey: boolean } {
  const segments: Segment[] = e.instancePath
    .split('/')
    .slice(1)
    .map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties':
      return { segments: [...segments, String(p.additionalProperty)], message: 'unknown key', preferKey: true };
    case 'required':
      return { segments, message: `missing required key "${String(p.missingProperty)}"`, preferKey: false };
    case 'enum':
      return { segments, message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`, preferKey: false };
    case 'pattern': {
      const hint = (e.parentSchema as { 'x-message'?: string } | undefined)?.['x-message'];
      return { segments, message: hint ?? `must match ${String(p.pattern)}`, preferKey: false };
    }
    case 'oneOf':
      return { segments, message: 'must be a secret reference: { env: NAME } or { file: PATH }', preferKey: false };
    default:
      return { segments, message: e.message ?? 'is invalid', preferKey: false };
  }
}

export async function loadConfig(file: string, stages: readonly StageModule[]): Promise<LoadedConfig> {
  const display = file;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'cannot be read';
    throw new ConfigError([{ file: display, line: 0, col: 0, path: '', message: why, severity: 'error' }]);
  }
  return parseConfig(text, display, path.dirname(path.resolve(file)), stages);
}

export function parseConfig(text: string, display: string, baseDir: string, stages: readonly StageModule[]): LoadedConfig {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true });
  const problems: ConfigProblem[] = [];
  const at = (segments: readonly Segment[], message: string, severity: 'error' | 'warning' = 'error', preferKey = false) => {
    const { line, col } = locate(doc, lc, segments, preferKey);
    problems.push({ file: display, line, col, path: formatPath(segments), message, severity });
  };
  for (const e of doc.errors) {
    const pos = lc.linePos(e.pos[0]);
    problems.push({ file: display, line: pos.line, col: pos.col, path: '', message: e.message.split('\n')[0] ?? 'YAML error', severity: 'error' });
  }
  if (problems.length) throw new ConfigError(problems);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIASES });
  } catch (err) {
    throw new ConfigError([{ file: display, line: 1, col: 1, path: '', message: (err as Error).message, severity: 'error' }]);
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new ConfigError([{ file: display, line: 1, col: 1, path: '', message: 'the config must be a YAML mapping', severity: 'error' }]);
  }
  const ajv = new Ajv2020({ allErrors: true, strict: true, useDefaults: true, allowUnionTypes: true, verbose: true });
  ajv.addVocabulary(['x-message']);
  const validate = ajv.compile(buildRootSchema(stages));
  if (!validate(data)) {
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      // oneOf/if branches produce noise: keep the first message per location.
      if (e.schemaPath.includes('/oneOf/')) continue;
      const m = ajvMessage(e);
      const key = `${formatPath(m.segments)}|${m.message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      at(m.segments, m.message, 'error', m.preferKey);
    }
    // Report reference and cross-field problems in the same run where the data allows it.
    try {
      for (const issue of semanticChecks(data as RootConfig, stages, baseDir)) {
        const known = problems.some((p) => p.path === formatPath(issue.path));
        if ((issue.severity ?? 'error') === 'error' && !known) at(issue.path, issue.message);
      }
    } catch {
      /* the data is too malformed for semantic checks: the schema errors say enough */
    }
    throw new ConfigError(dedupe(problems).sort((a, b) => a.line - b.line || a.col - b.col));
  }
  const config = data as RootConfig;
  for (const issue of semanticChecks(config, stages, baseDir)) at(issue.path, issue.message, issue.severity ?? 'error');
  if (problems.some((p) => p.severity === 'error')) throw new ConfigError(problems);
  return { file: display, baseDir, config: deepFreeze(config), warnings: problems };
}

/** One problem per path and message (schema and semantic checks may find the same one). */
export function dedupe(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const k = `${p.path}|${p.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
