/**
 * Media types (RFC 9110 §8.3.1): `type "/" subtype *( OWS ";" OWS parameter )`, case-insensitive
 * type, subtype and parameter names; JSON is `application/json` or any `+json` suffix (RFC 6839 §3.1).
 */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export interface MediaType {
  /** `type/subtype`, lower case. */
  readonly essence: string;
  readonly params: ReadonlyMap<string, string>;
}

export function parseMediaRange(value: string): MediaType | undefined {
  const [head = '', ...rest] = value.split(';');
  const [type, subtype, extra] = head.trim().split('/');
  if (!type || !subtype || extra !== undefined || !TOKEN.test(type) || !TOKEN.test(subtype)) return undefined;
  const params = new Map<string, string>();
  for (const p of rest) {
    const eq = p.indexOf('=');
    if (eq === -1) return undefined;
    const name = p.slice(0, eq).trim().toLowerCase();
    let v = p.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    if (!TOKEN.test(name)) return undefined;
    params.set(name, v);
  }
  return { essence: `${type}/${subtype}`.toLowerCase(), params };
}

export function isJsonMediaType(essence: string): boolean {
  return essence === 'application/json' || (essence.startsWith('application/') && essence.endsWith('+json'));
}

/** A Content-Type header value names JSON (strictly: what the gateway itself parses and checks). */
export function isJsonContentType(value: string | string[] | undefined): boolean {
  if (value === undefined) return false;
  const m = parseMediaRange(Array.isArray(value) ? value.join(', ') : value);
  return m !== undefined && isJsonMediaType(m.essence);
}

/** The most specific documented range that covers `essence`: exact, then `type/*`, then `*\/*`. */
export function bestRange<T extends { readonly range: string }>(essence: string, ranges: readonly T[]): T | undefined {
  let wildcard: T | undefined;
  let any: T | undefined;
  const prefix = `${essence.slice(0, essence.indexOf('/'))}/*`;
  for (const r of ranges) {
    if (r.range === essence) return r;
    if (r.range === prefix) wildcard = r;
    else if (r.range === '*/*') any = r;
  }
  return wildcard ?? any;
}

/** Whether the route's allowlist (`validation.contentTypes`, ranges allowed) admits `essence`. */
export function allowedBy(essence: string, allowlist: readonly string[]): boolean {
  const type = essence.slice(0, essence.indexOf('/'));
  return allowlist.some((a) => {
    if (a === essence || a === '*/*' || a === `${type}/*`) return true;
    // `application/*+json`: any structured-syntax suffix of that type.
    const m = /^([a-z0-9.+-]+)\/\*\+([a-z0-9.-]+)$/.exec(a);
    return m !== null && type === m[1] && essence.endsWith(`+${m[2] as string}`);
  });
}
