/**
 * The upstream's response header fields as they go back to the client: connection-specific
 * fields (RFC 9110 §7.6.1, and the fields `Connection` names), the upstream's software banner and
 * any `Rampart-*` field stay behind; the core adds the security headers.
 */
import type { OutgoingHeaders } from '../../core/stage.ts';
import { HOP_BY_HOP, connectionTokens } from '../../core/http/hop-by-hop.ts';

/** The upstream's software banner stays behind too. */
const BANNER = new Set(['server', 'x-powered-by']);

type InHeaders = Record<string, string | string[] | undefined>;

export function clientResponseHeaders(headers: InHeaders): OutgoingHeaders {
  const listed = connectionTokens(headers.connection);
  const out: OutgoingHeaders = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || !Object.hasOwn(headers, name)) continue;
    const n = name.toLowerCase();
    if (HOP_BY_HOP.has(n) || BANNER.has(n) || listed.has(n) || n.startsWith('proxy-')) continue;
    // S12: the gateway owns CORS. An upstream that reflects Origin (with credentials) must not
    // widen a route's allowlist, nor open a route where CORS is off.
    if (n.startsWith('access-control-')) continue;
    if (n.startsWith('rampart-')) continue; // only the gateway speaks Rampart-*; an echoed identity token stays inside
    out[n] = value;
  }
  return out;
}

/** RFC 9110 §6.5.1: framing, routing and authentication fields are not allowed in trailers. */
const NOT_IN_TRAILERS = new Set(['content-length', 'content-type', 'content-encoding', 'content-range', 'host', 'authorization', 'set-cookie', 'www-authenticate', 'cache-control', 'expires', 'date', 'location', 'retry-after', 'vary', 'age']);

export function clientTrailers(trailers: InHeaders): OutgoingHeaders | undefined {
  const out = clientResponseHeaders(trailers);
  for (const name of Object.keys(out)) if (NOT_IN_TRAILERS.has(name)) delete out[name];
  return Object.keys(out).length > 0 ? out : undefined;
}
