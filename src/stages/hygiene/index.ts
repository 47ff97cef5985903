/**
 * hygiene: byte limits (header count and size, URL length, body size per route), the one path
 * normalisation, Host/:authority checks, and removal of hop-by-hop and Rampart-* request headers.
 * Answers 431/414/413/400 as problem+json itself: Node's own parser limits are set above these.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { hasMethodOverride } from '../../core/http/method-override.ts';
import { GatewayError } from '../../errors/problem.ts';
import type { Stage, StageModule } from '../../core/stage.ts';
import { normalisePath } from './path.ts';
import { HOP_BY_HOP, connectionTokens } from '../../core/http/hop-by-hop.ts';

export interface HygieneConfig {
  readonly maxHeaderCount: number;
  readonly maxHeaderBytes: number;
  readonly maxUrlBytes: number;
  readonly maxBodyBytes: number;
}

/** Limits Node itself enforces, kept above any value the schema accepts. */
export const NODE_LIMITS = { maxHeaderSize: 128 * 1024, maxHeaderListPairs: 1100, maxHeadersCount: 2000 } as const;

export interface RawRequest {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** Alternating names and values as received (Node's rawHeaders). */
  readonly rawHeaders: readonly string[];
  readonly httpVersion: string;
}

export interface Inspected {
  readonly path: string;
  readonly query: string;
  readonly host: string;
  readonly headers: IncomingHttpHeaders;
}

/** Addressed to the gateway itself (RFC 9110 §11.7): never passed on. */
const PROXY_AUTH = new Set(['proxy-authorization', 'proxy-authenticate']);
const SUPPORTED_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/**
 * Method overrides let a client turn the checked GET into a DELETE at frameworks that honour them
 * (Express, Symfony, Rails): never forwarded (OWASP API5).
 */
const METHOD_OVERRIDES = new Set(['x-http-method-override', 'x-http-method', 'x-method-override']);
const HOST = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\d{1,3}(?:\.\d{1,3}){3}|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

export function inspect(raw: RawRequest, config: HygieneConfig): Inspected | GatewayError {
  // RFC 9110 §15.6.2: a method the gateway does not implement is 501 — TRACE and CONNECT never,
  // and nothing outside the standard set (case-sensitive, §9.1: `get` is not GET).
  if (!SUPPORTED_METHODS.has(raw.method)) {
    return new GatewayError('RAMPART_HYGIENE_METHOD_NOT_SUPPORTED', { reason: `method ${raw.method.slice(0, 32)}` });
  }
  if (Buffer.byteLength(raw.url) > config.maxUrlBytes) {
    return new GatewayError('RAMPART_HYGIENE_URI_TOO_LONG', { detail: `The request target exceeds ${config.maxUrlBytes} bytes.` });
  }
  const count = raw.rawHeaders.length / 2;
  if (count > config.maxHeaderCount) {
    return new GatewayError('RAMPART_HYGIENE_TOO_MANY_HEADERS', { detail: `At most ${config.maxHeaderCount} header fields are accepted.` });
  }
  let bytes = 0;
  let authorizations = 0;
  for (let i = 0; i < raw.rawHeaders.length; i++) {
    const s = raw.rawHeaders[i] as string;
    bytes += s.length + 2;
    if (i % 2 === 0 && s.length === 13 && s.toLowerCase() === 'authorization') authorizations++;
  }
  // Node keeps the first of two Authorization headers and drops the other: a proxy in front might
  // have used the other one. Two credentials are no credential (RFC 6750 §2).
  if (authorizations > 1) return new GatewayError('RAMPART_AUTHN_BAD_REQUEST', { detail: 'Send one Authorization header.', headers: { 'www-authenticate': 'Bearer error="invalid_request"' }, reason: 'several Authorization headers' });
  if (bytes > config.maxHeaderBytes) {
    return new GatewayError('RAMPART_HYGIENE_HEADERS_TOO_LARGE', { detail: `Header fields may total at most ${config.maxHeaderBytes} bytes.` });
  }
  const expect = raw.headers.expect;
  if (expect !== undefined && String(expect).toLowerCase() !== '100-continue') {
    return new GatewayError('RAMPART_HYGIENE_EXPECTATION_FAILED', { reason: 'unsupported Expect' });
  }
  // Only origin-form targets (RFC 9112 §3.2.1); absolute-form and asterisk-form are for proxies.
  if (!raw.url.startsWith('/')) return new GatewayError('RAMPART_HYGIENE_PATH_INVALID', { detail: 'Only origin-form request targets are accepted.' });
  const q = raw.url.indexOf('?');
  const rawPath = q === -1 ? raw.url : raw.url.slice(0, q);
  const query = q === -1 ? '' : raw.url.slice(q + 1);
  if (raw.url.includes('#')) return new GatewayError('RAMPART_HYGIENE_PATH_INVALID', { detail: 'A fragment is not part of a request target.' });
  if (/[\x00-\x20\x7f-\uffff]/.test(query)) return new GatewayError('RAMPART_HYGIENE_BAD_REQUEST', { detail: 'The query string contains raw control or non-ASCII characters.' });
  // `?_method=DELETE` turns a checked GET into a DELETE at frameworks that honour it (OWASP API5),
  // under any spelling a framework decodes to it (`_m%65thod`, `_method[]`).
  if ((query.includes('%') || /method/i.test(query)) && hasMethodOverride(new URLSearchParams(query).keys())) {
    return new GatewayError('RAMPART_HYGIENE_METHOD_OVERRIDE', { detail: 'A `_method` parameter does not change the request method.', reason: '_method in the query' });
  }
  const norm = normalisePath(rawPath);
  if (!norm.ok) return new GatewayError('RAMPART_HYGIENE_PATH_INVALID', { reason: norm.reason, detail: 'The request path is ambiguous or invalid.' });

  const host = resolveHost(raw);
  if (host instanceof GatewayError) return host;

  const headers: IncomingHttpHeaders = {};
  const listed = connectionTokens(raw.headers.connection);
  const inbound = raw.headers;
  for (const name in inbound) {
    if (!Object.hasOwn(inbound, name) || name.startsWith(':')) continue;
    const value = inbound[name];
    if (HOP_BY_HOP.has(name) || listed.has(name) || PROXY_AUTH.has(name)) continue;
    if (name.startsWith('rampart-')) continue; // S2: a client can never forge Rampart-* headers
    // CGI-style servers (WSGI, Rack, PHP) map '-' and '_' to one variable: Rampart_Identity or
    // X_Forwarded_For would shadow what the gateway sets. Dropped, as nginx does by default.
    if (name.includes('_')) continue;
    if (METHOD_OVERRIDES.has(name)) continue;
    headers[name] = value;
  }
  return { path: norm.path, query, host, headers };
}

/** Host from :authority (HTTP/2) or Host (HTTP/1.1); both present and different is refused (S11). */
function resolveHost(raw: RawRequest): string | GatewayError {
  let hostCount = 0;
  for (let i = 0; i < raw.rawHeaders.length; i += 2) {
    const name = raw.rawHeaders[i] as string;
    if (name.length === 4 && name.toLowerCase() === 'host') hostCount++;
  }
  if (hostCount > 1) return new GatewayError('RAMPART_HYGIENE_HOST_INVALID', { detail: 'More than one Host header.' });
  const authority = raw.headers[':authority'];
  const hostHeader = raw.headers.host;
  if (typeof authority === 'string' && typeof hostHeader === 'string' && authority.toLowerCase() !== hostHeader.toLowerCase()) {
    return new GatewayError('RAMPART_HYGIENE_HOST_INVALID', { detail: ':authority and Host disagree.' });
  }
  const value = (typeof authority === 'string' ? authority : hostHeader)?.toLowerCase();
  if (!value) return new GatewayError('RAMPART_HYGIENE_HOST_INVALID', { detail: 'The request has no Host.' });
  if (value !== lastValidHost) {
    if (!HOST.test(value)) return new GatewayError('RAMPART_HYGIENE_HOST_INVALID', { detail: 'The Host header is malformed.' });
    lastValidHost = value;
  }
  return value;
}

/** The last Host value that passed HOST: clients send the same one request after request. */
let lastValidHost = '';

/** The host without its port, for route matching. */
export function hostname(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

const limit = (min: number, max: number) => ({ type: 'integer', minimum: min, maximum: max });

export const hygieneStage: StageModule<HygieneConfig> = {
  name: 'hygiene',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      maxHeaderCount: limit(8, 1000),
      maxHeaderBytes: limit(1024, 64 * 1024),
      maxUrlBytes: limit(256, 64 * 1024),
      maxBodyBytes: limit(0, 1024 * 1024 * 1024),
    },
  },
  defaults: { maxHeaderCount: 100, maxHeaderBytes: 16 * 1024, maxUrlBytes: 8 * 1024, maxBodyBytes: 1024 * 1024 },
  compile(config): Stage & { inspect(raw: RawRequest): Inspected | GatewayError; readonly config: HygieneConfig } {
    return { name: 'hygiene', config, inspect: (raw) => inspect(raw, config) };
  },
};
