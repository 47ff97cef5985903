/**
 * What a schema declares about the values at each place, for the walk over a body: which object
 * properties are declared (the others are stripped from requests with `unknownProperties: strip`
 * and filtered out of responses with `responseContract: filter`), which are forbidden (`readOnly`
 * in requests, `writeOnly` in responses), and what a string is (its `format`, which controls the
 * injection checks). Composition keywords (`allOf`, `anyOf`, `oneOf`, `if`/`then`/`else`,
 * `dependentSchemas`, `$ref`) are merged: a property is declared when any branch declares it.
 * Built lazily from the prepared schemas (recursive schemas included) and memoised.
 */
import { isObject, resolvePointer } from './openapi/load.ts';
import { FORBIDDEN_KEYWORD } from './openapi/schemas.ts';
import { linearRegExp, type RegExpLike } from './patterns.ts';

export class Shape {
  readonly #root: Record<string, unknown>;
  readonly #facets: readonly Record<string, unknown>[];
  #props: Map<string, Shape | null> | undefined;
  #declared: Set<string> | undefined;
  #patterns: Array<{ re: RegExpLike; schemas: Record<string, unknown>[] }> | undefined;
  #additional: Shape | 'any' | 'none' | undefined;
  #items: Shape | undefined;
  #prefix: Shape[] | undefined;
  /** `format`s (and `contentMediaType`s) of the string schemas here. */
  readonly formats: ReadonlySet<string>;
  /** `x-rampart-allow`: checks the document owner turned off for this value. */
  readonly allow: ReadonlySet<string>;
  /** The property is forbidden here (readOnly in a request, writeOnly in a response). */
  readonly forbidden: boolean;

  constructor(root: Record<string, unknown>, schemas: readonly unknown[]) {
    this.#root = root;
    this.#facets = collect(root, schemas);
    const formats = new Set<string>();
    let allow: Set<string> | undefined;
    let forbidden = false;
    for (const f of this.#facets) {
      if (typeof f.format === 'string') formats.add(f.format);
      if (typeof f.contentMediaType === 'string') formats.add(f.contentMediaType);
      if (typeof f[FORBIDDEN_KEYWORD] === 'string') forbidden = true;
      const a = f['x-rampart-allow'];
      if (Array.isArray(a)) {
        const s = new Set(a.filter((x): x is string => typeof x === 'string'));
        allow = allow ? new Set([...allow].filter((x) => s.has(x))) : s;
      }
    }
    this.formats = formats;
    this.allow = allow ?? EMPTY;
    this.forbidden = forbidden;
  }

  /** The shape of property `name`; null when the object does not declare it. */
  prop(name: string): Shape | null {
    this.#props ??= new Map();
    const cached = this.#props.get(name);
    if (cached !== undefined) return cached;
    const subs: unknown[] = [];
    for (const f of this.#facets) if (isObject(f.properties) && Object.hasOwn(f.properties, name)) subs.push(f.properties[name]);
    for (const p of this.#patternList()) if (p.re.test(name)) subs.push(...p.schemas);
    let shape: Shape | null;
    if (subs.length) shape = new Shape(this.#root, subs);
    else {
      const add = this.#additionalShape();
      shape = add === 'none' ? null : add === 'any' ? ANY_SHAPE(this.#root) : add;
    }
    this.#props.set(name, shape);
    return shape;
  }

  /** Names some branch declares in `properties` (a `$`-prefixed one is then not a NoSQL operator). */
  declares(name: string): boolean {
    if (!this.#declared) {
      this.#declared = new Set();
      for (const f of this.#facets) if (isObject(f.properties)) for (const k of Object.keys(f.properties)) this.#declared.add(k);
    }
    return this.#declared.has(name);
  }

  /** The shape of array item `index`. */
  item(index: number): Shape {
    this.#prefix ??= (() => {
      const lists: unknown[][] = [];
      for (const f of this.#facets) if (Array.isArray(f.prefixItems)) lists.push(f.prefixItems);
      const n = Math.max(0, ...lists.map((l) => l.length));
      return Array.from({ length: n }, (_, i) => new Shape(this.#root, lists.map((l) => l[i]).filter((x) => x !== undefined)));
    })();
    const p = this.#prefix[index];
    if (p && p.#facets.length) return p;
    this.#items ??= new Shape(this.#root, this.#facets.map((f) => f.items).filter((x) => x !== undefined));
    return this.#items;
  }

  /** True when no branch says anything of object properties: every property is kept. */
  get freeForm(): boolean {
    return this.#additionalShape() === 'any' && !this.#facets.some((f) => isObject(f.properties) || isObject(f.patternProperties));
  }

  #patternList(): Array<{ re: RegExpLike; schemas: Record<string, unknown>[] }> {
    if (!this.#patterns) {
      this.#patterns = [];
      for (const f of this.#facets) {
        if (!isObject(f.patternProperties)) continue;
        for (const [p, s] of Object.entries(f.patternProperties)) if (isObject(s)) this.#patterns.push({ re: linearRegExp(p, 'u'), schemas: [s] });
      }
    }
    return this.#patterns;
  }

  #additionalShape(): Shape | 'any' | 'none' {
    if (this.#additional !== undefined) return this.#additional;
    const schemas: unknown[] = [];
    let any = false;
    let declares = false;
    for (const f of this.#facets) {
      if (isObject(f.properties) || isObject(f.patternProperties)) declares = true;
      for (const k of ['additionalProperties', 'unevaluatedProperties'] as const) {
        const a = f[k];
        if (a === undefined || a === false) continue;
        if (k === 'unevaluatedProperties' && a === false) continue;
        if (a === true || (isObject(a) && Object.keys(a).length === 0)) any = true;
        else if (isObject(a)) schemas.push(a);
      }
      if (f.additionalProperties === false) declares = true;
    }
    this.#additional = any ? 'any' : schemas.length ? new Shape(this.#root, schemas) : declares ? 'none' : 'any';
    return this.#additional;
  }
}

const EMPTY: ReadonlySet<string> = new Set();
const anyShapes = new WeakMap<object, Shape>();
function ANY_SHAPE(root: Record<string, unknown>): Shape {
  let s = anyShapes.get(root);
  if (!s) anyShapes.set(root, (s = new Shape(root, [])));
  return s;
}

/** The schema and every branch it is made of (following `$ref`), each once. */
function collect(root: Record<string, unknown>, schemas: readonly unknown[]): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const seen = new Set<object>();
  const visit = (s: unknown): void => {
    if (!isObject(s) || seen.has(s)) return;
    seen.add(s);
    out.push(s);
    if (typeof s.$ref === 'string') visit(resolvePointer(root, s.$ref));
    for (const k of ['allOf', 'anyOf', 'oneOf'] as const) if (Array.isArray(s[k])) (s[k] as unknown[]).forEach(visit);
    for (const k of ['if', 'then', 'else'] as const) visit(s[k]);
    if (isObject(s.dependentSchemas)) Object.values(s.dependentSchemas).forEach(visit);
  };
  schemas.forEach(visit);
  return out;
}
