/**
 * Connection-specific header fields: never forwarded in either direction (RFC 9110 §7.6.1), and
 * forbidden in HTTP/2 (RFC 9113 §8.2.2). One list for hygiene, the proxy and the response writer.
 */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
]);

const NONE: ReadonlySet<string> = new Set();

/** The field names a `Connection` header lists (RFC 9110 §7.6.1): hop-by-hop too. */
export function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined || value === '') return NONE;
  const joined = Array.isArray(value) ? value.join(',') : value;
  return new Set(
    joined
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}
