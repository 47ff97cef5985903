/**
 * The header fields sent upstream: the inbound ones as hygiene left them, minus credentials and
 * anything a client could use to impersonate the gateway, plus the forwarding record and the
 * gateway's own `Rampart-Identity` (DESIGN "Identity to upstreams", S2, S5).
 */
import { isIPv6 } from 'node:net';
import type { RequestContext } from '../../core/context.ts';
import { HOP_BY_HOP, connectionTokens } from '../../core/http/hop-by-hop.ts';

export type UpstreamHeaders = Record<string, string | string[]>;

/** Set by the gateway alone: whatever a client sent in these is replaced. */
const GATEWAY_OWNED = ['host', 'forwarded', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id', 'traceparent'];
/**
 * Never forwarded: client-supplied address and path overrides that some frameworks honour
 * (X-Original-URL / X-Rewrite-URL would let a client reach a path other than the one checked, S11),
 * `Expect` (the gateway answered it), and Proxy-Authorization (addressed to the gateway, RFC 9110 §11.7.2).
 */
const DROPPED = ['x-real-ip', 'x-forwarded-port', 'x-forwarded-prefix', 'x-forwarded-server', 'x-original-url', 'x-rewrite-url', 'expect', 'proxy-authorization', 'x-api-key'];
/**
 * Client credentials, sent upstream only when the route says `forwardCredentials: true`. API keys
 * (`X-API-Key`) are never forwarded, whatever the route says (issue 3 §7): they are in DROPPED.
 */
const CREDENTIALS = ['authorization'];

const ALWAYS_DROPPED = new Set([...HOP_BY_HOP, ...GATEWAY_OWNED, ...DROPPED]);

export type ForwardingContext = Pick<RequestContext, 'headers' | 'clientIp' | 'peerIp' | 'host' | 'listener' | 'requestId' | 'traceparent'>;

export interface HeaderOptions {
  readonly forwardCredentials: boolean;
  /** The signed `Rampart-Identity` token for this principal and upstream. */
  readonly identityToken: string;
  /**
   * The answer will be checked whole (authz response ownership): no range or conditional request,
   * so the upstream answers 200 with the object rather than a 206 slice or a 304 that would tell,
   * unchecked, that someone else's object exists.
   */
  readonly wholeAnswer?: boolean;
}

const PARTIAL_OR_CONDITIONAL = new Set(['range', 'if-range', 'if-none-match', 'if-modified-since', 'if-match', 'if-unmodified-since']);

export function upstreamRequestHeaders(ctx: ForwardingContext, options: HeaderOptions): UpstreamHeaders {
  // ctx.headers is hygiene's output, where Connection is already gone: connectionTokens() then
  // costs nothing; it still guards a caller that hands over raw headers.
  const listed = connectionTokens(ctx.headers.connection);
  const out: UpstreamHeaders = {};
  const inbound = ctx.headers;
  for (const name in inbound) {
    const value = inbound[name];
    if (value === undefined || !Object.hasOwn(inbound, name) || name.startsWith(':')) continue;
    if (ALWAYS_DROPPED.has(name) || listed.has(name)) continue;
    if (name.startsWith('rampart-')) continue; // S2: only the gateway speaks Rampart-*
    if (!options.forwardCredentials && CREDENTIALS.includes(name)) continue;
    if (options.wholeAnswer && PARTIAL_OR_CONDITIONAL.has(name)) continue;
    if (name === 'cookie') {
      const kept = withoutAuthServerCookies(value);
      if (kept) out.cookie = kept;
      continue;
    }
    out[name] = value;
  }
  out['x-forwarded-for'] = xForwardedFor(ctx);
  out['x-forwarded-proto'] = ctx.listener.scheme;
  out['x-forwarded-host'] = ctx.host;
  out.forwarded = forwarded(ctx);
  out['x-request-id'] = ctx.requestId;
  out.traceparent = ctx.traceparent;
  out['rampart-identity'] = options.identityToken;
  return out;
}

/**
 * X-Forwarded-For. Without a trusted proxy in front (peer = client) it is replaced by the client
 * IP. Behind one, the inbound list is kept from the client IP rightwards (what lies left of it is
 * whatever the client wrote, S5) and the peer is appended, as every proxy does.
 */
export function xForwardedFor(ctx: Pick<RequestContext, 'headers' | 'clientIp' | 'peerIp'>): string {
  if (ctx.peerIp === ctx.clientIp) return ctx.clientIp;
  const raw = ctx.headers['x-forwarded-for'];
  const hops = (Array.isArray(raw) ? raw.join(',') : (raw ?? ''))
    .split(',')
    .map((h) => h.trim())
    .filter(Boolean);
  const from = hops.lastIndexOf(ctx.clientIp);
  return [...(from === -1 ? [ctx.clientIp] : hops.slice(from)), ctx.peerIp].join(', ');
}

/**
 * RFC 7239 Forwarded: one element for this hop, stating what the gateway verified — the client
 * (§5.2, IPv6 bracketed and quoted per §6), the Host it received (§5.3), the scheme (§5.4).
 * A client's own Forwarded is never passed on.
 */
export function forwarded(ctx: Pick<RequestContext, 'clientIp' | 'host' | 'listener'>): string {
  const last = lastForwarded;
  if (last.clientIp === ctx.clientIp && last.host === ctx.host && last.scheme === ctx.listener.scheme) return last.value;
  const forNode = isIPv6(ctx.clientIp) ? `"[${ctx.clientIp}]"` : ctx.clientIp;
  const value = `for=${forNode};host=${token(ctx.host)};proto=${ctx.listener.scheme}`;
  lastForwarded = { clientIp: ctx.clientIp, host: ctx.host, scheme: ctx.listener.scheme, value };
  return value;
}

/** The last element built: a client sends request after request from one address to one host. */
let lastForwarded = { clientIp: '', host: '', scheme: '', value: '' };

/** RFC 7239 §4: a value is a token, or else a quoted-string (RFC 9110 §5.6.4). */
function token(value: string): string {
  return /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value) ? value : `"${value.replace(/["\\]/g, '\\$&')}"`;
}

/**
 * S1: the authorization server's cookies (session, interaction, CSRF; `rampart-auth-*` and their
 * `.sig` twins) are never forwarded to an upstream, whatever path a browser sent them on.
 */
export function withoutAuthServerCookies(value: string | string[]): string | undefined {
  const pairs = (Array.isArray(value) ? value.join('; ') : value).split(';');
  const kept = pairs.filter((p) => !p.trim().toLowerCase().startsWith('rampart-auth-'));
  const joined = kept.map((p) => p.trim()).filter(Boolean).join('; ');
  return joined || undefined;
}
