/**
 * Method overrides (OWASP API5): frameworks that turn a POST into a DELETE when the request names
 * another method — `_method` in the query or the body (Rails, Laravel, Symfony, Express's
 * method-override). The method the gateway authorized must be the method the upstream runs, so a
 * `_method` under any spelling a framework decodes to it is refused, wherever it is:
 *
 * - keys are compared after what frameworks do to them: trimmed (PHP drops leading spaces), `[…]`
 *   suffixes removed (`_method[]`: qs, PHP arrays), `.` and spaces turned into `_` (PHP), any case;
 * - bodies by their media type read loosely, as lenient frameworks read it: JSON is any type with
 *   "json" in it (`text/json`, `application/x-json`, `+json`), a form is the type before `;` or `,`
 *   (PHP cuts at `,`), multipart parts by their `name` or RFC 7578/5987 `name*`.
 *
 * Every scan is linear in the body: no regular expression runs over a client's bytes.
 */

/** Part headers longer than this are not headers a browser sends: the body is refused as malformed. */
const MAX_PART_HEADERS = 16 * 1024;

export function isMethodOverrideKey(key: string): boolean {
  return key.trim().replace(/\[.*$/s, '').replace(/[.\s]/g, '_').toLowerCase() === '_method';
}

export function hasMethodOverride(keys: Iterable<string>): boolean {
  for (const k of keys) if (isMethodOverrideKey(k)) return true;
  return false;
}

export type BodyMedia =
  | { readonly kind: 'json' }
  | { readonly kind: 'form' }
  | { readonly kind: 'multipart'; readonly boundary: string | undefined }
  | { readonly kind: 'other' };

export function bodyMedia(contentType: string | undefined): BodyMedia {
  if (!contentType) return { kind: 'other' };
  const essence = (contentType.split(/[;,]/, 1)[0] ?? '').trim().toLowerCase();
  if (essence === 'multipart/form-data') return { kind: 'multipart', boundary: boundaryOf(contentType) };
  if (essence === 'application/x-www-form-urlencoded') return { kind: 'form' };
  if (essence.includes('json')) return { kind: 'json' };
  return { kind: 'other' };
}

function boundaryOf(contentType: string): string | undefined {
  for (const param of contentType.split(';').slice(1)) {
    const eq = param.indexOf('=');
    if (eq === -1 || param.slice(0, eq).trim().toLowerCase() !== 'boundary') continue;
    let v = param.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    return v.length > 0 && v.length <= 200 ? v : undefined;
  }
  return undefined;
}

/** `'override'` when a part is named `_method` (any spelling), `'malformed'` when the parts cannot be read. */
export function multipartOverride(body: Buffer, boundary: string | undefined): 'override' | 'malformed' | undefined {
  if (boundary === undefined) return body.length === 0 ? undefined : 'malformed';
  const delimiter = Buffer.from(`--${boundary}`, 'latin1');
  let at = body.indexOf(delimiter);
  while (at !== -1) {
    const afterDelimiter = at + delimiter.length;
    // `--boundary--` closes the body.
    if (body[afterDelimiter] === 0x2d && body[afterDelimiter + 1] === 0x2d) return undefined;
    let line = body.indexOf(0x0a, afterDelimiter);
    if (line === -1) return 'malformed';
    // Header lines up to the first empty one.
    for (;;) {
      const start = line + 1;
      if (start - afterDelimiter > MAX_PART_HEADERS) return 'malformed';
      const end = body.indexOf(0x0a, start);
      if (end === -1) return 'malformed';
      const text = body.toString('latin1', start, end > start && body[end - 1] === 0x0d ? end - 1 : end);
      if (text === '') {
        line = end;
        break;
      }
      if (isDispositionOverride(text)) return 'override';
      line = end;
    }
    at = body.indexOf(delimiter, line + 1);
  }
  return undefined;
}

/** `Content-Disposition: form-data; name="_method"` (or `name*=UTF-8''%5Fmethod`). */
function isDispositionOverride(headerLine: string): boolean {
  const colon = headerLine.indexOf(':');
  if (colon === -1 || headerLine.slice(0, colon).trim().toLowerCase() !== 'content-disposition') return false;
  for (const param of splitParams(headerLine.slice(colon + 1))) {
    const eq = param.indexOf('=');
    if (eq === -1) continue;
    const key = param.slice(0, eq).trim().toLowerCase();
    let value = param.slice(eq + 1).trim();
    if (key === 'name') {
      if (value.startsWith('"')) value = value.slice(1, value.endsWith('"') && value.length > 1 ? -1 : undefined).replace(/\\(.)/g, '$1');
      if (isMethodOverrideKey(value)) return true;
    } else if (key === 'name*') {
      const quote = value.indexOf("''");
      try {
        if (isMethodOverrideKey(decodeURIComponent(quote === -1 ? value : value.slice(quote + 2)))) return true;
      } catch {
        return true; // an undecodable extended name is no name a form would send
      }
    }
  }
  return false;
}

/** Parameters split on `;` outside quoted strings. */
function splitParams(text: string): string[] {
  const out: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '\\' && quoted && i + 1 < text.length) {
      current += c + (text[++i] as string);
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ';' && !quoted) {
      out.push(current);
      current = '';
    } else current += c;
  }
  out.push(current);
  return out;
}
