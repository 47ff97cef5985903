/**
 * One path normalisation for the whole gateway (RFC 3986 §5.2.4 remove_dot_segments, §6.2.2
 * percent-decoding), with every ambiguous form refused rather than guessed: what authorization
 * sees is exactly what the upstream gets (S11).
 */
export type PathResult = { ok: true; path: string } | { ok: false; reason: string };

const HEX = /^[0-9A-Fa-f]{2}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function normalisePath(raw: string): PathResult {
  if (!raw.startsWith('/')) return { ok: false, reason: 'path must start with /' };
  if (raw.includes('\\')) return { ok: false, reason: 'backslash in path' };
  if (raw.includes(';')) return { ok: false, reason: 'path parameters (;) are not allowed' };
  // Fast path (most requests): printable ASCII without escapes decodes to itself.
  if (!raw.includes('%') && /^[\x21-\x7e]*$/.test(raw)) return resolveSegments(raw);
  // Decode percent-escapes to bytes, refusing ambiguous ones before they can mean two things.
  const bytes: number[] = [];
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 0x25) {
      const hex = raw.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return { ok: false, reason: 'invalid percent-encoding' };
      const b = parseInt(hex, 16);
      if (b === 0x2f) return { ok: false, reason: 'encoded slash (%2F)' };
      if (b === 0x5c) return { ok: false, reason: 'encoded backslash (%5C)' };
      if (b === 0x2e) return { ok: false, reason: 'encoded dot (%2E)' };
      if (b === 0x25) return { ok: false, reason: 'double encoding (%25)' };
      if (b === 0x3b) return { ok: false, reason: 'encoded path parameter (%3B)' };
      if (b < 0x20 || b === 0x7f) return { ok: false, reason: 'encoded control character' };
      bytes.push(b);
      i += 2;
    } else if (c < 0x21 || c > 0x7e) {
      return { ok: false, reason: 'raw control, space or non-ASCII character in path' };
    } else bytes.push(c);
  }
  let decoded: string;
  try {
    // Fatal decoding refuses overlong forms (%C0%AE), surrogates and truncated sequences.
    decoded = utf8.decode(Uint8Array.from(bytes));
  } catch {
    return { ok: false, reason: 'invalid UTF-8 in path' };
  }
  if (/[\u0080-\u009f\u2028\u2029\ufeff]/.test(decoded)) return { ok: false, reason: 'invisible or control character in path' };
  return resolveSegments(decoded);
}

/** Duplicate slashes collapse; dot segments resolve (remove_dot_segments) without escaping root. */
function resolveSegments(decoded: string): PathResult {
  if (!decoded.includes('//') && !decoded.includes('/.')) return { ok: true, path: decoded };
  const out: string[] = [];
  const segments = decoded.split('/');
  for (let i = 1; i < segments.length; i++) {
    const s = segments[i] as string;
    const last = i === segments.length - 1;
    if (s === '' && !last) continue;
    if (s === '.') {
      if (last) out.push('');
      continue;
    }
    if (s === '..') {
      out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(s);
  }
  return { ok: true, path: '/' + out.join('/') };
}

/**
 * Characters encodePath leaves as they are: RFC 3986 unreserved, the sub-delims it keeps and
 * `:`, `@`, `/`. A path made only of these (most paths) is its own encoding.
 */
const WIRE_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,=:@/]*$/;

/** Encodes a normalised path for the wire: each segment percent-encoded except RFC 3986 pchar. */
export function encodePath(path: string): string {
  if (WIRE_SAFE.test(path)) return path;
  return path
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/%(2[146-9A-C]|3A|40|3D)/gi, (m) => decodeURIComponent(m)))
    .join('/');
}
