/**
 * Finds the credentials of a request: a Bearer token in `Authorization` (RFC 6750 §2.1) or an API
 * key in `X-API-Key`. A token in the query string (RFC 6750 §2.3) is refused, never used: URLs end
 * up in logs, browser history and `Referer`. A request with more than one credential is refused
 * (RFC 6750 §2: "clients MUST NOT use more than one method").
 */
import type { IncomingHttpHeaders } from 'node:http';

export type Presented =
  | { readonly kind: 'none'; readonly note?: string }
  | { readonly kind: 'bearer'; readonly token: string }
  | { readonly kind: 'api-key'; readonly key: string }
  | { readonly kind: 'bad'; readonly code: 'RAMPART_AUTHN_BAD_REQUEST' | 'RAMPART_AUTHN_TOKEN_IN_QUERY'; readonly description: string; readonly reason: string };

/** Longest token or key looked at; hygiene bounds the whole header section anyway. */
export const MAX_CREDENTIAL_LENGTH = 8192;

/** RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
/** API keys: `rmp_<id>_<secret><checksum>` (S4) — checked in full by the API-key verifier. */
const API_KEY_CHARS = /^[A-Za-z0-9_-]+$/;
const QUERY_TOKEN = /access/i;

export function presentedCredentials(headers: Readonly<IncomingHttpHeaders>, query: string): Presented {
  if (query.length !== 0 && QUERY_TOKEN.test(query) && queryHasAccessToken(query)) {
    return { kind: 'bad', code: 'RAMPART_AUTHN_TOKEN_IN_QUERY', description: 'Send the access token in the Authorization header', reason: 'access_token in query' };
  }
  const authorization = headers.authorization as string | string[] | undefined;
  const apiKey = headers['x-api-key'] as string | string[] | undefined;
  let bearer: string | undefined;
  let note: string | undefined;
  if (authorization !== undefined) {
    if (typeof authorization !== 'string') return bad('several Authorization fields', 'several Authorization header fields');
    // RFC 9110 §11.1: the scheme is case-insensitive; RFC 6750 §2.1: one or more spaces, then the b64token.
    const m = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?: +(.*))?$/.exec(authorization);
    if (!m) return bad('Malformed Authorization header', 'malformed Authorization');
    if ((m[1] as string).toLowerCase() === 'bearer') {
      const token = m[2] ?? '';
      if (token.length === 0 || token.length > MAX_CREDENTIAL_LENGTH || !B64TOKEN.test(token)) {
        return bad('Malformed Bearer credentials', token.length === 0 ? 'empty bearer token' : 'bearer token not a b64token');
      }
      bearer = token;
    } else {
      // Another scheme (Basic, Digest, …) is not a credential this gateway understands.
      note = `unsupported scheme ${(m[1] as string).slice(0, 16)}`;
    }
  }
  if (apiKey !== undefined) {
    if (typeof apiKey !== 'string' || apiKey.includes(',')) return bad('Send one X-API-Key header', 'several X-API-Key values');
    if (bearer !== undefined) return bad('Send either a Bearer token or an API key, not both', 'bearer token and API key');
    const key = apiKey.trim();
    if (key.length === 0 || key.length > MAX_CREDENTIAL_LENGTH) return bad('Malformed X-API-Key header', 'empty or oversized API key');
    // Charset problems are the verifier's "malformed": one answer for every bad key.
    return { kind: 'api-key', key: API_KEY_CHARS.test(key) ? key : '' };
  }
  if (bearer !== undefined) return { kind: 'bearer', token: bearer };
  return note === undefined ? { kind: 'none' } : { kind: 'none', note };
}

function bad(description: string, reason: string): Presented {
  return { kind: 'bad', code: 'RAMPART_AUTHN_BAD_REQUEST', description, reason };
}

/** Any query parameter named access_token, in any case and encoding (RFC 6750 §2.3). */
function queryHasAccessToken(query: string): boolean {
  try {
    for (const name of new URLSearchParams(query).keys()) if (name.toLowerCase() === 'access_token') return true;
  } catch {
    /* a query URLSearchParams cannot read carries no token it could find */
  }
  return false;
}
