/**
 * Method overrides (OWASP API5): frameworks that turn a POST into a DELETE when the request names
 * another method — `_method` in the query or the body (Rails/Rack, Laravel, Symfony, Express's
 * method-override). The method the gateway authorized must be the method the upstream runs, so a
 * `_method` under any spelling a framework decodes to it is refused, and a body that frameworks
 * could read in different ways is refused rather than guessed:
 *
 * - keys are compared after what frameworks do to them: cut at NUL (PHP), trimmed (PHP drops
 *   leading spaces), `[…]` suffixes removed (`_method[]`: qs, PHP arrays), `.` and spaces turned into
 *   `_` (PHP), any case;
 * - media types are read as the most lenient framework reads them: cut at `;`, `,` or a space; any
 *   `multipart/*`; any type naming JSON (not the streaming ndjson / json-seq); no type at all is a
 *   form (Rack);
 * - multipart bodies are read strictly (RFC 2046 §5.1.1, RFC 7578): the body starts with the first
 *   delimiter, delimiters only at the start of a line, CRLF lines, no folded or unknown part headers,
 *   one Content-Disposition per part, a closing delimiter — anything else is malformed.
 *
 * Every scan is linear in the body: no regular expression runs over a client's bytes.
 */

/** Part headers longer than this are not headers a browser sends: the body is refused as malformed. */
const MAX_PART_HEADERS = 16 * 1024;
/** More parts than this is not a form. */
const MAX_PARTS = 10_000;
/** The part headers a form sends (RFC 7578 §4.2, §4.4, §4.7); others (Rack's Content-ID names) are refused. */
const PART_HEADERS = new Set(['content-disposition', 'content-type', 'content-transfer-encoding']);
const CRLF = Buffer.from('\r\n');
const CRLFCRLF = Buffer.from('\r\n\r\n');

export function isMethodOverrideKey(key: string): boolean {
  const nul = key.indexOf('\0');
  return (nul === -1 ? key : key.slice(0, nul)).trim().replace(/\[.*$/s, '').replace(/[.\s]/g, '_').toLowerCase() === '_method';
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
  const essence = (contentType ?? '').trim().split(/[;,\s]/, 1)[0]?.toLowerCase() ?? '';
  if (essence === '') return { kind: 'form' };
  if (essence.startsWith('multipart/')) return { kind: 'multipart', boundary: boundaryOf(contentType ?? '') };
  if (essence === 'application/x-www-form-urlencoded') return { kind: 'form' };
  if (essence.includes('json') && !/ndjson|jsonl|json-seq/.test(essence)) return { kind: 'json' };
  return { kind: 'other' };
}

/**
 * The boundary, only when it is unambiguous: one `boundary` parameter, and no other parameter whose
 * name contains "boundary" (PHP finds the first such substring, Rack the last `boundary=`).
 */
function boundaryOf(contentType: string): string | undefined {
  let found: string | undefined;
  for (const param of splitParams(contentType).slice(1)) {
    const eq = param.indexOf('=');
    const name = (eq === -1 ? param : param.slice(0, eq)).trim().toLowerCase();
    if (!name.includes('boundary')) continue;
    if (name !== 'boundary' || found !== undefined) return undefined;
    let v = param.slice(eq + 1).trim();
    if (v.startsWith('"')) {
      if (!v.endsWith('"') || v.length < 2) return undefined;
      v = v.slice(1, -1);
    }
    // RFC 2046 §5.1.1: 1 to 70 characters of a restricted set.
    if (!/^[0-9A-Za-z'()+_,./:=? -]{0,69}[0-9A-Za-z'()+_,./:=?-]$/.test(v)) return undefined;
    found = v;
  }
  return found;
}

/** `'override'` when a part is named `_method` (any spelling), `'malformed'` when the parts cannot be read one way only. */
export function multipartOverride(body: Buffer, boundary: string | undefined): 'override' | 'malformed' | undefined {
  if (boundary === undefined) return body.length === 0 ? undefined : 'malformed';
  const first = Buffer.from(`--${boundary}`, 'latin1');
  const delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  // No preamble: browsers send none, and one could hold a second structure for another parser.
  if (body.length < first.length || !body.subarray(0, first.length).equals(first)) return 'malformed';
  let at = first.length; // just after a delimiter's `--boundary`
  let delimiters = 1;
  for (let parts = 0; ; parts++) {
    if (body[at] === 0x2d && body[at + 1] === 0x2d) {
      // `--boundary--`: the end. The boundary appears nowhere else (RFC 2046 §5.1.1): a parser
      // that splits on a bare LF (PHP) would otherwise find parts this one does not.
      return occurrences(body, first) === delimiters ? undefined : 'malformed';
    }
    if (parts >= MAX_PARTS) return 'malformed';
    let p = at;
    while (body[p] === 0x20 || body[p] === 0x09) p++; // transport padding
    if (body[p] !== 0x0d || body[p + 1] !== 0x0a) return 'malformed';
    p += 2;
    // Part headers up to the empty line (an immediate CRLF: no headers).
    const end = body[p] === 0x0d && body[p + 1] === 0x0a ? p : body.indexOf(CRLFCRLF, p);
    if (end === -1 || end - p > MAX_PART_HEADERS) return 'malformed';
    let dispositions = 0;
    for (let line = p; line < end; ) {
      const eol = Math.min(body.indexOf(CRLF, line), end) ;
      const stop = eol === -1 ? end : eol;
      const text = body.toString('latin1', line, stop);
      if (text.includes('\r') || text.includes('\n') || text.startsWith(' ') || text.startsWith('\t')) return 'malformed';
      const colon = text.indexOf(':');
      const name = colon === -1 ? '' : text.slice(0, colon).trim().toLowerCase();
      if (!PART_HEADERS.has(name)) return 'malformed';
      if (name === 'content-disposition') {
        if (++dispositions > 1) return 'malformed';
        const verdict = dispositionOverride(text.slice(colon + 1));
        if (verdict) return verdict;
      }
      line = stop + 2;
    }
    // The next delimiter, at the start of a line (its CRLF may be the one that ends the headers).
    const next = body.indexOf(delimiter, end);
    if (next === -1) return 'malformed'; // no closing delimiter
    delimiters++;
    at = next + delimiter.length;
  }
}

function occurrences(body: Buffer, needle: Buffer): number {
  let n = 0;
  for (let i = body.indexOf(needle); i !== -1; i = body.indexOf(needle, i + needle.length)) n++;
  return n;
}

/** `form-data; name="_method"` (or `name*=UTF-8''%5Fmethod`): an override, a malformed value, or nothing. */
function dispositionOverride(value: string): 'override' | 'malformed' | undefined {
  const params = splitParams(value);
  if ((params[0] ?? '').trim().toLowerCase() !== 'form-data') return 'malformed';
  for (const param of params.slice(1)) {
    const eq = param.indexOf('=');
    if (eq === -1) continue;
    const key = param.slice(0, eq).trim().toLowerCase();
    let v = param.slice(eq + 1).trim();
    if (key === 'name') {
      if (v.startsWith('"')) v = v.slice(1, v.endsWith('"') && v.length > 1 ? -1 : undefined).replace(/\\(.)/g, '$1');
      if (isMethodOverrideKey(v)) return 'override';
    } else if (key === 'name*') {
      const quote = v.indexOf("''");
      let decoded: string;
      try {
        decoded = decodeURIComponent(quote === -1 ? v : v.slice(quote + 2));
      } catch {
        return 'malformed'; // a name no form sends, which parsers would read differently
      }
      if (isMethodOverrideKey(decoded)) return 'override';
    }
  }
  return undefined;
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
