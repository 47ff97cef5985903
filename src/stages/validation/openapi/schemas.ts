/**
 * Prepares the schemas of a loaded OpenAPI document for Ajv (JSON Schema 2020-12), once, in a copy
 * of the document per direction:
 * - OpenAPI 3.0 schemas are converted first (OAS 3.0.3 §4.7.24: `nullable`, boolean
 *   `exclusiveMinimum`/`exclusiveMaximum`, siblings of `$ref` ignored);
 * - mass assignment (OWASP API3): every object that declares properties is closed with
 *   `unevaluatedProperties: false` at the places a value sits (never inside `allOf`/`oneOf`/`anyOf`
 *   branches), so that composed schemas keep working — 2020-12 §11.3 sees through the branches;
 * - requests: `readOnly` properties are refused and not required (OAS 3.1 §4.8.24.4);
 *   responses: `writeOnly` properties are refused (or filtered) and not required;
 * - S10: `pattern`s and `patternProperties` must compile on the linear-time engine, `uniqueItems`
 *   needs `maxItems`. Problems are collected with their JSON pointers.
 */
import { pointerSegment } from '../../../core/body/json.ts';
import { checkPattern } from '../patterns.ts';
import { isObject, resolvePointer } from './load.ts';

export type Direction = 'request' | 'response';

/** Keywords whose value is one subschema. */
const ONE = ['additionalProperties', 'unevaluatedProperties', 'items', 'contains', 'not', 'if', 'then', 'else', 'propertyNames', 'unevaluatedItems', 'contentSchema'] as const;
/** Keywords whose value is a map of subschemas. */
const MAP = ['properties', 'patternProperties', 'dependentSchemas', '$defs', 'definitions'] as const;
/** Keywords whose value is a list of subschemas. */
const LIST = ['allOf', 'anyOf', 'oneOf', 'prefixItems'] as const;
/** Where a value sits: these subschemas describe a value of their own (closed); branches do not. */
const VALUE_ONE = new Set(['additionalProperties', 'items', 'contains', 'unevaluatedItems', 'contentSchema']);
const VALUE_MAP = new Set(['properties', 'patternProperties']);
const VALUE_LIST = new Set(['prefixItems']);

export const FORBIDDEN_KEYWORD = 'x-rampart-forbidden';

export interface PrepareProblem {
  readonly pointer: string;
  readonly message: string;
}

export class SchemaPreparer {
  readonly root: Record<string, unknown>;
  readonly version: '3.0' | '3.1';
  readonly direction: Direction;
  readonly problems: PrepareProblem[] = [];
  readonly #done = new Set<object>();
  readonly #pointers = new Map<object, string>();

  constructor(root: Record<string, unknown>, version: '3.0' | '3.1', direction: Direction) {
    this.root = root;
    this.version = version;
    this.direction = direction;
  }

  /** Prepares the schema at `pointer` (a place where a value sits) and everything it reaches. */
  prepare(schema: unknown, pointer: string): void {
    if (!isObject(schema)) return;
    this.#walk(schema, pointer, true);
  }

  #walk(node: Record<string, unknown>, pointer: string, valuePosition: boolean): void {
    if (this.#done.has(node)) {
      if (valuePosition) this.#close(node);
      return;
    }
    this.#done.add(node);
    this.#pointers.set(node, pointer);
    if (this.version === '3.0') convert30(node);
    this.#checkS10(node, pointer);
    if (typeof node.$ref === 'string') {
      const target = resolvePointer(this.root, node.$ref);
      if (isObject(target)) this.#walk(target, node.$ref.slice(1), false);
    }
    this.#markForbidden(node);
    for (const k of ONE) {
      const sub = node[k];
      if (isObject(sub)) this.#walk(sub, `${pointer}/${k}`, VALUE_ONE.has(k));
    }
    for (const k of MAP) {
      const m = node[k];
      if (!isObject(m)) continue;
      for (const [name, sub] of Object.entries(m)) if (isObject(sub)) this.#walk(sub, `${pointer}/${k}/${pointerSegment(name)}`, VALUE_MAP.has(k));
    }
    for (const k of LIST) {
      const l = node[k];
      if (!Array.isArray(l)) continue;
      l.forEach((sub, i) => isObject(sub) && this.#walk(sub, `${pointer}/${k}/${i}`, VALUE_LIST.has(k)));
    }
    if (valuePosition) this.#close(node);
  }

  /** Adds `unevaluatedProperties: false` where an object declares properties and says nothing of others. */
  #close(node: Record<string, unknown>): void {
    if ('unevaluatedProperties' in node || node.additionalProperties !== undefined) return;
    if (!this.#declaresProperties(node, new Set())) return; // a free-form object stays free-form
    node.unevaluatedProperties = false;
  }

  #declaresProperties(node: Record<string, unknown>, seen: Set<object>): boolean {
    if (seen.has(node)) return false;
    seen.add(node);
    if (isObject(node.properties) || isObject(node.patternProperties) || node.additionalProperties !== undefined) return true;
    const branches: unknown[] = [];
    if (typeof node.$ref === 'string') branches.push(resolvePointer(this.root, node.$ref));
    for (const k of ['allOf', 'anyOf', 'oneOf'] as const) if (Array.isArray(node[k])) branches.push(...(node[k] as unknown[]));
    for (const k of ['if', 'then', 'else'] as const) branches.push(node[k]);
    if (isObject(node.dependentSchemas)) branches.push(...Object.values(node.dependentSchemas));
    return branches.some((b) => isObject(b) && this.#declaresProperties(b, seen));
  }

  /** readOnly in requests, writeOnly in responses: the property may not be sent, nor be required. */
  #markForbidden(node: Record<string, unknown>): void {
    const props = node.properties;
    if (!isObject(props)) return;
    const flag = this.direction === 'request' ? 'readOnly' : 'writeOnly';
    const forbidden: string[] = [];
    for (const [name, sub] of Object.entries(props)) {
      if (isObject(sub) && this.#flagged(sub, flag, new Set())) {
        props[name] = { [FORBIDDEN_KEYWORD]: flag };
        forbidden.push(name);
      }
    }
    if (forbidden.length && Array.isArray(node.required)) node.required = node.required.filter((r) => !forbidden.includes(r as string));
  }

  #flagged(node: Record<string, unknown>, flag: string, seen: Set<object>): boolean {
    if (seen.has(node)) return false;
    seen.add(node);
    if (node[flag] === true) return true;
    if (typeof node.$ref === 'string') {
      const t = resolvePointer(this.root, node.$ref);
      if (isObject(t) && this.#flagged(t, flag, seen)) return true;
    }
    return Array.isArray(node.allOf) && node.allOf.some((b) => isObject(b) && this.#flagged(b, flag, seen));
  }

  #checkS10(node: Record<string, unknown>, pointer: string): void {
    if (typeof node.pattern === 'string') {
      const why = checkPattern(node.pattern);
      if (why) this.problems.push({ pointer: `${pointer}/pattern`, message: why });
    }
    if (isObject(node.patternProperties)) {
      for (const p of Object.keys(node.patternProperties)) {
        const why = checkPattern(p);
        if (why) this.problems.push({ pointer: `${pointer}/patternProperties/${pointerSegment(p)}`, message: why });
      }
    }
    if (node.uniqueItems === true && typeof node.maxItems !== 'number') {
      this.problems.push({ pointer: `${pointer}/uniqueItems`, message: 'uniqueItems needs maxItems (S10: the check is quadratic in the array length)' });
    }
  }
}

/** OAS 3.0 schema object → JSON Schema 2020-12 (in place). */
export function convert30(node: Record<string, unknown>): void {
  if (typeof node.$ref === 'string') {
    // OAS 3.0.3 §4.7.25: properties beside $ref are ignored.
    for (const k of Object.keys(node)) if (k !== '$ref') delete node[k];
    return;
  }
  if (node.nullable === true) {
    if (typeof node.type === 'string') node.type = [node.type, 'null'];
    else if (Array.isArray(node.type) && !node.type.includes('null')) node.type = [...node.type, 'null'];
    if (Array.isArray(node.enum) && !node.enum.includes(null)) node.enum = [...node.enum, null];
  }
  delete node.nullable;
  for (const [flag, bound] of [['exclusiveMinimum', 'minimum'], ['exclusiveMaximum', 'maximum']] as const) {
    if (node[flag] === true && typeof node[bound] === 'number') {
      node[flag] = node[bound];
      delete node[bound];
    } else if (typeof node[flag] === 'boolean') delete node[flag];
  }
  delete node.example;
}
