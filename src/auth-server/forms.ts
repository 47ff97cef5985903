/** Reading a login form body: urlencoded only, bounded, every field a single bounded string. */
export const MAX_FORM_BYTES = 8 * 1024;

export type Form = ReadonlyMap<string, string>;

/** The fields of an application/x-www-form-urlencoded body; undefined when it is anything else. */
export function parseForm(contentType: string | undefined, body: Buffer): Form | undefined {
  const type = (contentType ?? '').split(';')[0]?.trim().toLowerCase();
  if (type !== 'application/x-www-form-urlencoded' || body.length > MAX_FORM_BYTES) return undefined;
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(body.toString('utf8'))) {
    // A field sent twice is ambiguous: refuse rather than pick one.
    if (out.has(k)) return undefined;
    out.set(k, v);
  }
  return out;
}

export function field(form: Form, name: string, max: number): string {
  const v = form.get(name) ?? '';
  return v.length > max ? '' : v;
}
