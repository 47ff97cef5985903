/**
 * Path traversal: `..` segments (with `/` or `\`, after up to three rounds of percent-decoding
 * and overlong UTF-8 slashes), poison NUL bytes, `file:` URLs and the classic target files.
 * An ellipsis ("wait...") or a range ("1..10") is not a segment and passes.
 */
const DOT_SEGMENT = /(?:^|[\\/])\.\.(?:[\\/]|$)|\.\.[\\/]/;
const TARGETS = /\/etc\/(?:passwd|shadow|group|hosts)\b|\/proc\/self\/|\bwin\.ini\b|\bboot\.ini\b|[a-z]:[\\/]windows[\\/]|^file:/;

export function looksLikeTraversal(decodedLower: string): boolean {
  if (decodedLower.includes('\0')) return true;
  if (!decodedLower.includes('..') && !decodedLower.includes('/') && !decodedLower.includes('\\') && !decodedLower.includes(':')) return false;
  return DOT_SEGMENT.test(decodedLower) || TARGETS.test(decodedLower);
}
