/**
 * What one route's compiled proxy stage holds: its settings, the shared upstream runtime, and the
 * services it calls per request. Built once per route at compile.
 */
import type { Logger } from 'pino';
import type { IdentityTokens } from '../../core/identity-port.ts';
import type { RequestContext } from '../../core/context.ts';
import { GatewayError } from '../../errors/problem.ts';
import { publishSecurityEvent } from '../../observe/events.ts';
import type { ProxyConfig } from './config.ts';
import type { UpstreamRuntime } from './upstream.ts';

/** Per-request facts for the access log line (onLog). */
export interface ProxyNote {
  target: string | undefined;
  attempts: number;
}

export interface RouteProxy {
  readonly routeId: string;
  readonly config: ProxyConfig;
  readonly upstream: UpstreamRuntime;
  readonly stripPrefix: string | undefined;
  /** The route accepts protocol upgrades (`websocket: true`). */
  readonly websocket: boolean;
  readonly headersMs: number;
  readonly bodyMs: number;
  readonly identity: IdentityTokens;
  readonly generation: number;
  readonly log: Logger;
  readonly notes: WeakMap<RequestContext, ProxyNote>;
}

/** The one way to say "no target to send this to": 503 with Retry-After. */
export function unavailable(seconds: number, reason: string): GatewayError {
  return new GatewayError('RAMPART_UPSTREAM_UNAVAILABLE', { reason, headers: { 'retry-after': String(Math.max(1, seconds)) } });
}

/** The client went away (or sent a truncated body) before the upstream answered. */
export function clientGone(reason: string, cause?: unknown): GatewayError {
  return new GatewayError('RAMPART_HYGIENE_BAD_REQUEST', { reason, cause });
}

/** The upstream's certificate failed verification: possible interception, worth an event. */
export function tlsFailureEvent(ctx: RequestContext, rp: RouteProxy, reason: string): void {
  publishSecurityEvent({
    'event.kind': 'event',
    'event.category': ['network'],
    'event.action': 'proxy.upstream_tls_failed',
    'event.outcome': 'failure',
    'event.reason': `upstream ${rp.upstream.config.id}: ${reason}`,
    'http.request.method': ctx.method,
    'url.path': ctx.path,
    'trace.id': ctx.traceId,
    'rampart.code': 'RAMPART_UPSTREAM_CONNECT_FAILED',
    'rampart.route': rp.routeId,
  });
}
