/**
 * Parameters as the document describes them (OAS 3.1 §4.8.12.4 "Style Values"): read from the
 * path, the query string (RFC 3986 §3.4; `+` is a space, as HTML forms send it), header fields
 * and the Cookie header (RFC 6265 §4.2.1), deserialised by style and explode into the types the
 * schema asks for, then validated. Percent-encoding that does not decode is itself a violation.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { parseJson, DEFAULT_JSON_LIMITS } from '../../core/body/json.ts';
import type { CompiledParameter, Primitive } from './openapi/compile.ts';

export interface RequestParameters {
  readonly path: Readonly<Record<string, string>>;
  /** Decoded names → decoded values, in order; undefined when the query does not decode. */
  readonly query: ReadonlyMap<string, readonly string[]> | undefined;
  readonly headers: Readonly<IncomingHttpHeaders>;
  readonly cookies: ReadonlyMap<string, string>;
}

export type ParameterValue = { readonly present: false } | { readonly present: true; readonly value: unknown } | { readonly error: string };

const ABSENT: ParameterValue = { present: false };

export function parseQuery(query: string): Map<string, string[]> | undefined {
  const out = new Map<string, string[]>();
  if (query === '') return out;
  for (const pair of query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = decode(eq === -1 ? pair : pair.slice(0, eq));
    const value = decode(eq === -1 ? '' : pair.slice(eq + 1));
    if (name === undefined || value === undefined) return undefined;
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return out;
}

function decode(s: string): string | undefined {
  const plus = s.includes('+') ? s.replaceAll('+', ' ') : s;
  if (!plus.includes('%')) return plus;
  try {
    return decodeURIComponent(plus);
  } catch {
    return undefined;
  }
}

/** RFC 6265 §4.2.1: `cookie-pair *( ";" SP cookie-pair )`; the first of a repeated name wins (§5.4). */
export function parseCookies(header: string | string[] | undefined): Map<string, string> {
  const out = new Map<string, string>();
  const text = Array.isArray(header) ? header.join('; ') : (header ?? '');
  for (const part of text.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    let value = part.slice(eq + 1).trim();
    if (value.startsWith('"') && value.endsWith('"') && value.length >= 2) value = value.slice(1, -1);
    if (name && !out.has(name)) out.set(name, value);
  }
  return out;
}

/** Reads one parameter; records the query names it consumed in `used`. */
export function readParameter(p: CompiledParameter, req: RequestParameters, used: Set<string>): ParameterValue {
  switch (p.in) {
    case 'path': {
      const raw = req.path[p.name];
      if (raw === undefined) return ABSENT;
      if (p.style === 'label') {
        if (!raw.startsWith('.')) return { error: 'style' };
        return fromString(p, raw.slice(1), p.explode ? '.' : ',');
      }
      return fromString(p, raw, ',');
    }
    case 'header': {
      const v = req.headers[p.name];
      if (v === undefined) return ABSENT;
      return fromString(p, Array.isArray(v) ? v.join(', ') : v, ',');
    }
    case 'cookie': {
      const v = req.cookies.get(p.name);
      if (v === undefined) return ABSENT;
      const decoded = decode(v);
      return decoded === undefined ? { error: 'encoding' } : fromString(p, decoded, ',');
    }
    case 'query':
      return readQuery(p, req.query ?? new Map(), used);
  }
}

function readQuery(p: CompiledParameter, query: ReadonlyMap<string, readonly string[]>, used: Set<string>): ParameterValue {
  const t = p.type;
  if (p.style === 'deepObject') {
    // name[prop]=value (OAS 3.1 §4.8.12.4.1); deeper nesting is not defined and refused.
    const obj: Record<string, unknown> = {};
    let found = false;
    const prefix = `${p.name}[`;
    for (const [name, values] of query) {
      if (!name.startsWith(prefix)) continue;
      used.add(name);
      const key = name.slice(prefix.length, -1);
      if (!name.endsWith(']') || key.includes('[') || key.includes(']')) return { error: 'style' };
      if (values.length > 1) return { error: 'multipleValues' };
      if (key === '__proto__') return { error: 'style' };
      obj[key] = coerce(values[0] as string, t.properties.get(key));
      found = true;
    }
    return found ? { present: true, value: obj } : ABSENT;
  }
  if (t.kind === 'object' && p.explode && !p.json) {
    // form, explode: each property is its own query parameter.
    const obj: Record<string, unknown> = {};
    let found = false;
    for (const [key, types] of t.properties) {
      const values = query.get(key);
      if (values === undefined) continue;
      used.add(key);
      if (values.length > 1) return { error: 'multipleValues' };
      obj[key] = coerce(values[0] as string, types);
      found = true;
    }
    return found ? { present: true, value: obj } : ABSENT;
  }
  const values = query.get(p.name);
  if (values === undefined) return ABSENT;
  used.add(p.name);
  if (t.kind === 'array' && p.explode && p.style === 'form' && !p.json) {
    return { present: true, value: values.map((v) => coerce(v, t.primitives)) };
  }
  if (values.length > 1) return { error: 'multipleValues' };
  const delimiter = p.style === 'spaceDelimited' ? ' ' : p.style === 'pipeDelimited' ? '|' : ',';
  return fromString(p, values[0] as string, delimiter);
}

/** A single serialised value: JSON content, or split by `delimiter` for arrays and objects. */
function fromString(p: CompiledParameter, raw: string, delimiter: string): ParameterValue {
  const t = p.type;
  if (p.json) {
    try {
      return { present: true, value: parseJson(raw, DEFAULT_JSON_LIMITS) };
    } catch {
      return { error: 'json' };
    }
  }
  if (t.kind === 'array') return { present: true, value: raw === '' ? [] : raw.split(delimiter).map((v) => coerce(v, t.primitives)) };
  if (t.kind === 'object') {
    const obj: Record<string, unknown> = {};
    if (p.explode && delimiter === ',') {
      // simple, explode: k1=v1,k2=v2
      for (const pair of raw.split(',')) {
        const eq = pair.indexOf('=');
        if (eq === -1) return { error: 'style' };
        const key = pair.slice(0, eq);
        if (key === '__proto__' || Object.hasOwn(obj, key)) return { error: 'style' };
        obj[key] = coerce(pair.slice(eq + 1), t.properties.get(key));
      }
    } else {
      // explode false: k1,v1,k2,v2
      const parts = raw.split(delimiter);
      if (parts.length % 2 !== 0) return { error: 'style' };
      for (let i = 0; i < parts.length; i += 2) {
        const key = parts[i] as string;
        if (key === '__proto__' || Object.hasOwn(obj, key)) return { error: 'style' };
        obj[key] = coerce(parts[i + 1] as string, t.properties.get(key));
      }
    }
    return { present: true, value: obj };
  }
  return { present: true, value: coerce(raw, t.primitives) };
}

const NUMBER = /^-?(?:0|[1-9]\d{0,308})(?:\.\d{1,340})?(?:[eE][+-]?\d{1,3})?$/;

/** A string as the type the schema asks for; left a string when it is not one (the schema then says why). */
export function coerce(raw: string, types: ReadonlySet<Primitive> | undefined): unknown {
  if (!types || types.size === 0 || (types.size === 1 && types.has('string'))) return raw;
  if ((types.has('integer') || types.has('number')) && NUMBER.test(raw)) {
    const n = Number(raw);
    if (Number.isFinite(n)) return n;
  }
  if (types.has('boolean') && (raw === 'true' || raw === 'false')) return raw === 'true';
  if (types.has('null') && raw === '' && !types.has('string')) return null;
  return raw;
}
