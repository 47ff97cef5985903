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

/**
 * Parsed values of the few `Connection` headers peers actually send (`keep-alive`, `close`,
 * `Upgrade`): every proxied request and response carries one, and a parse per message was a
 * measurable share of the proxy path. Bounded; values beyond the bound are parsed each time.
 */
const SEEN = new Map<string, ReadonlySet<string>>();
const SEEN_MAX = 64;

/** The field names a `Connection` header lists (RFC 9110 §7.6.1): hop-by-hop too. */
export function connectionTokens(value: string | string[] | undefined): ReadonlySet<string> {
  if (value === undefined || value === '') return NONE;
  if (Array.isArray(value)) return parse(value.join(','));
  const seen = SEEN.get(value);
  if (seen !== undefined) return seen;
  const parsed = parse(value);
  if (SEEN.size < SEEN_MAX && value.length <= 256) SEEN.set(value, parsed);
  return parsed;
}

function parse(joined: string): ReadonlySet<string> {
  return new Set(
    joined
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}
