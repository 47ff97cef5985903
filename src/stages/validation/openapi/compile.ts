/**
 * Compiles every operation of a loaded OpenAPI document once: parameters (path, query, header,
 * cookie), request bodies per media type, responses per status and media type — each schema
 * prepared (schemas.ts) and compiled by Ajv, with the shapes the body walk needs. All or nothing:
 * any problem is a ConfigError naming the document, line and JSON pointer.
 */
import type { ValidateFunction } from 'ajv';
import { ConfigError, dedupe, type ConfigProblem } from '../../../config/load.ts';
import { pointerSegment } from '../../../core/body/json.ts';
import { Shape } from '../shape.ts';
import { createAjv } from './ajv.ts';
import { isObject, resolvePointer, type OpenApiDocument } from './load.ts';
import { PathIndex } from './paths.ts';
import { SchemaPreparer, type Direction } from './schemas.ts';
import { isJsonMediaType, parseMediaRange } from '../../../core/http/media-type.ts';

export type ParameterLocation = 'path' | 'query' | 'header' | 'cookie';
export type Primitive = 'string' | 'number' | 'integer' | 'boolean' | 'null';

/** What a parameter's schema says its value is, for deserialisation (OAS 3.1 §4.8.12.4). */
export interface ValueType {
  readonly kind: 'primitive' | 'array' | 'object';
  /** Allowed primitive types (of the value, or of the array's items); empty: any. */
  readonly primitives: ReadonlySet<Primitive>;
  /** For objects: the primitive types of each declared property. */
  readonly properties: ReadonlyMap<string, ReadonlySet<Primitive>>;
}

export interface CompiledParameter {
  readonly name: string;
  readonly in: ParameterLocation;
  readonly required: boolean;
  readonly style: string;
  readonly explode: boolean;
  readonly allowEmptyValue: boolean;
  /** `content: application/json` instead of `schema`: the value is a JSON text. */
  readonly json: boolean;
  readonly type: ValueType;
  readonly validate: ValidateFunction;
  readonly shape: Shape;
}

export interface CompiledMedia {
  /** Lower case, as documented (may be a range such as `application/*`). */
  readonly range: string;
  readonly json: boolean;
  readonly validate: ValidateFunction | undefined;
  readonly shape: Shape | undefined;
}

export interface CompiledResponse {
  readonly headers: ReadonlyArray<{ readonly name: string; readonly required: boolean; readonly validate: ValidateFunction | undefined }>;
  /** Undefined: the response declares no content. */
  readonly media: readonly CompiledMedia[] | undefined;
}

export interface CompiledOperation {
  readonly id: string;
  readonly method: string;
  readonly template: string;
  readonly parameters: readonly CompiledParameter[];
  readonly body: { readonly required: boolean; readonly media: readonly CompiledMedia[] } | undefined;
  /** By status code, `1XX`…`5XX` range, or `default`. */
  readonly responses: ReadonlyMap<string, CompiledResponse>;
}

export interface CompiledDocument {
  readonly file: string;
  readonly paths: PathIndex<ReadonlyMap<string, CompiledOperation>>;
  readonly operationCount: number;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
/** OAS 3.1 §4.8.12.1: header parameters with these names are ignored. */
const IGNORED_HEADERS = new Set(['accept', 'content-type', 'authorization']);
const DEFAULT_STYLE: Record<ParameterLocation, string> = { path: 'simple', query: 'form', header: 'simple', cookie: 'form' };
const STYLES: Record<ParameterLocation, ReadonlySet<string>> = {
  path: new Set(['simple', 'label']),
  query: new Set(['form', 'spaceDelimited', 'pipeDelimited', 'deepObject']),
  header: new Set(['simple']),
  cookie: new Set(['form']),
};

export function compileDocument(doc: OpenApiDocument): CompiledDocument {
  const problems: ConfigProblem[] = [];
  const sides = {
    request: side(doc, 'request'),
    response: side(doc, 'response'),
  };
  const compile = (direction: Direction, schema: unknown, pointer: string): { validate: ValidateFunction; shape: Shape } | undefined => {
    const s = sides[direction];
    s.preparer.prepare(schema, pointer);
    try {
      const validate = s.ajv.compile({ $ref: `urn:rampart:${direction}#${pointer.split('/').map(encodeURIComponent).join('/')}` });
      return { validate, shape: new Shape(s.root, [schema]) };
    } catch (err) {
      problems.push(doc.problem(pointer, `schema does not compile: ${(err as Error).message.split('\n')[0]}`));
      return undefined;
    }
  };

  const paths = new PathIndex<ReadonlyMap<string, CompiledOperation>>();
  let count = 0;
  const root = sides.request.root;
  for (const [template, rawItem] of Object.entries(isObject(root.paths) ? root.paths : {})) {
    const itemPointer = `/paths/${pointerSegment(template)}`;
    if (!template.startsWith('/')) {
      problems.push(doc.problem(itemPointer, 'a path must start with /'));
      continue;
    }
    const item = deref(root, rawItem, itemPointer);
    if (!item) continue;
    const ops = new Map<string, CompiledOperation>();
    for (const method of METHODS) {
      const op = item.node[method];
      if (!isObject(op)) continue;
      const opPointer = `${item.pointer}/${method}`;
      const parameters = compileParameters(root, [...list(item.node.parameters, `${item.pointer}/parameters`), ...list(op.parameters, `${opPointer}/parameters`)], template, compile, (p, m) => problems.push(doc.problem(p, m)));
      let body: CompiledOperation['body'];
      const rb = op.requestBody === undefined ? undefined : deref(root, op.requestBody, `${opPointer}/requestBody`);
      if (rb) body = { required: rb.node.required === true, media: compileContent(rb.node.content, `${rb.pointer}/content`, 'request', compile) };
      const responses = new Map<string, CompiledResponse>();
      for (const [status, raw] of Object.entries(isObject(op.responses) ? op.responses : {})) {
        const r = deref(root, raw, `${opPointer}/responses/${pointerSegment(status)}`);
        if (!r) continue;
        const headers: Array<CompiledResponse['headers'][number]> = [];
        for (const [name, rawHeader] of Object.entries(isObject(r.node.headers) ? r.node.headers : {})) {
          const h = deref(root, rawHeader, `${r.pointer}/headers/${pointerSegment(name)}`);
          if (!h || name.toLowerCase() === 'content-type') continue;
          const c = isObject(h.node.schema) ? compile('response', h.node.schema, `${h.pointer}/schema`) : undefined;
          headers.push({ name: name.toLowerCase(), required: h.node.required === true, validate: c?.validate });
        }
        responses.set(status.toUpperCase(), { headers, media: isObject(r.node.content) ? compileContent(r.node.content, `${r.pointer}/content`, 'response', compile) : undefined });
      }
      const id = typeof op.operationId === 'string' ? op.operationId : `${method.toUpperCase()} ${template}`;
      ops.set(method.toUpperCase(), { id, method: method.toUpperCase(), template, parameters, body, responses });
      count++;
    }
    paths.add(template, ops);
  }
  for (const s of Object.values(sides)) for (const p of s.preparer.problems) problems.push(doc.problem(p.pointer, p.message));
  if (problems.length) throw new ConfigError(dedupe(problems));
  return { file: doc.file, paths, operationCount: count };
}

function side(doc: OpenApiDocument, direction: Direction) {
  const root = structuredClone(doc.root);
  const ajv = createAjv();
  ajv.addSchema({ ...root, $id: `urn:rampart:${direction}` });
  return { root, ajv, preparer: new SchemaPreparer(root, doc.version, direction) };
}

type Compile = (direction: Direction, schema: unknown, pointer: string) => { validate: ValidateFunction; shape: Shape } | undefined;

function compileParameters(
  root: Record<string, unknown>,
  raw: Array<{ value: unknown; pointer: string }>,
  template: string,
  compile: Compile,
  problem: (pointer: string, message: string) => void,
): CompiledParameter[] {
  // Operation-level parameters override path-level ones with the same name and location.
  const byKey = new Map<string, { node: Record<string, unknown>; pointer: string }>();
  for (const r of raw) {
    const p = deref(root, r.value, r.pointer);
    if (!p) continue;
    const name = p.node.name;
    const where = p.node.in;
    if (typeof name !== 'string' || !['path', 'query', 'header', 'cookie'].includes(where as string)) {
      problem(p.pointer, 'a parameter needs a name and in: path, query, header or cookie');
      continue;
    }
    if (where === 'header' && IGNORED_HEADERS.has(name.toLowerCase())) continue;
    byKey.set(`${where as string}:${where === 'header' ? name.toLowerCase() : name}`, p);
  }
  const out: CompiledParameter[] = [];
  for (const { node, pointer } of byKey.values()) {
    const location = node.in as ParameterLocation;
    const name = location === 'header' ? (node.name as string).toLowerCase() : (node.name as string);
    const style = typeof node.style === 'string' ? node.style : DEFAULT_STYLE[location];
    if (!STYLES[location].has(style)) {
      problem(`${pointer}/style`, `style "${style}" is not supported for ${location} parameters (${[...STYLES[location]].join(', ')})`);
      continue;
    }
    if (location === 'path' && !template.includes(`{${name}}`)) {
      problem(pointer, `path parameter "${name}" is not in the path template ${template}`);
      continue;
    }
    let schema: unknown = node.schema;
    let schemaPointer = `${pointer}/schema`;
    let json = false;
    if (schema === undefined && isObject(node.content)) {
      const [mediaType, media] = Object.entries(node.content)[0] ?? [];
      if (mediaType === undefined || !isJsonMediaType(mediaType.toLowerCase()) || !isObject(media)) {
        problem(`${pointer}/content`, 'only application/json content is supported for parameters');
        continue;
      }
      schema = media.schema ?? {};
      schemaPointer = `${pointer}/content/${pointerSegment(mediaType)}/schema`;
      json = true;
    }
    if (!isObject(schema)) schema = {};
    const c = compile('request', schema, schemaPointer);
    if (!c) continue;
    out.push({
      name,
      in: location,
      required: location === 'path' || node.required === true,
      style,
      explode: typeof node.explode === 'boolean' ? node.explode : style === 'form',
      allowEmptyValue: node.allowEmptyValue === true,
      json,
      type: valueType(root, schema),
      validate: c.validate,
      shape: c.shape,
    });
  }
  return out;
}

function compileContent(content: unknown, pointer: string, direction: Direction, compile: Compile): CompiledMedia[] {
  const out: CompiledMedia[] = [];
  for (const [type, media] of Object.entries(isObject(content) ? content : {})) {
    const range = parseMediaRange(type)?.essence ?? type.toLowerCase();
    const json = isJsonMediaType(range);
    const schema = isObject(media) ? media.schema : undefined;
    const c = json && isObject(schema) ? compile(direction, schema, `${pointer}/${pointerSegment(type)}/schema`) : undefined;
    out.push({ range, json, validate: c?.validate, shape: c?.shape });
  }
  return out;
}

/** Follows OpenAPI-level `$ref`s (parameters, request bodies, responses, headers, path items). */
function deref(root: Record<string, unknown>, value: unknown, pointer: string): { node: Record<string, unknown>; pointer: string } | undefined {
  let node = value;
  let at = pointer;
  for (let hops = 0; hops < 32 && isObject(node) && typeof node.$ref === 'string'; hops++) {
    at = node.$ref.slice(1);
    node = resolvePointer(root, node.$ref);
  }
  return isObject(node) && typeof node.$ref !== 'string' ? { node, pointer: at } : undefined;
}

function list(value: unknown, pointer: string): Array<{ value: unknown; pointer: string }> {
  return Array.isArray(value) ? value.map((v, i) => ({ value: v, pointer: `${pointer}/${i}` })) : [];
}

/** The types a schema allows, following `$ref` and composition. */
export function valueType(root: Record<string, unknown>, schema: unknown): ValueType {
  const facets = facetsOf(root, schema);
  const types = new Set<string>();
  for (const f of facets) {
    if (typeof f.type === 'string') types.add(f.type);
    else if (Array.isArray(f.type)) for (const t of f.type) types.add(String(t));
  }
  const primitivesOf = (s: unknown): Set<Primitive> => {
    const out = new Set<Primitive>();
    for (const f of facetsOf(root, s)) {
      const t = f.type;
      for (const x of typeof t === 'string' ? [t] : Array.isArray(t) ? t : []) if (['string', 'number', 'integer', 'boolean', 'null'].includes(String(x))) out.add(x as Primitive);
    }
    return out;
  };
  if (types.has('array')) {
    const items = facets.map((f) => f.items).find((i) => i !== undefined);
    return { kind: 'array', primitives: primitivesOf(items), properties: new Map() };
  }
  if (types.has('object')) {
    const properties = new Map<string, ReadonlySet<Primitive>>();
    for (const f of facets) if (isObject(f.properties)) for (const [k, v] of Object.entries(f.properties)) properties.set(k, primitivesOf(v));
    return { kind: 'object', primitives: new Set(), properties };
  }
  return { kind: 'primitive', primitives: primitivesOf(schema), properties: new Map() };
}

function facetsOf(root: Record<string, unknown>, schema: unknown): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const seen = new Set<object>();
  const visit = (s: unknown): void => {
    if (!isObject(s) || seen.has(s)) return;
    seen.add(s);
    out.push(s);
    if (typeof s.$ref === 'string') visit(resolvePointer(root, s.$ref));
    for (const k of ['allOf', 'anyOf', 'oneOf'] as const) if (Array.isArray(s[k])) (s[k] as unknown[]).forEach(visit);
  };
  visit(schema);
  return out;
}

