/**
 * Protocol upgrades (WebSocket) passed through to a healthy target: the same header rules and
 * `Rampart-Identity` as HTTP requests; only the upstream's 101 reaches the client; then bytes flow
 * both ways until either side closes or fails, which closes both. Any failure before the 101 is a
 * rejected GatewayError with nothing written yet: the core answers it on the socket as problem+json.
 */
import type { Duplex } from 'node:stream';
import { HOP_BY_HOP } from '../../core/http/hop-by-hop.ts';
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../../core/context.ts';
import { GatewayError } from '../../errors/problem.ts';
import { classify, errorCode } from './errors.ts';
import { upstreamRequestHeaders } from './request-headers.ts';
import { tlsFailureEvent, unavailable, type RouteProxy } from './route-proxy.ts';
import { upstreamTarget } from './target-path.ts';

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const PROTOCOLS = new RegExp(`^${TOKEN}(?:/${TOKEN})?(?:\\s*,\\s*${TOKEN}(?:/${TOKEN})?)*$`);
/** Visible ASCII and tabs only: nothing that could end a header line or change encoding. */
const FIELD_VALUE = /^[\t\x20-\x7e]*$/;
const NOT_RELAYED = new Set([...HOP_BY_HOP, 'content-length', 'server', 'x-powered-by']);

export async function proxyUpgrade(ctx: RequestContext, client: Duplex, head: Buffer, rp: RouteProxy): Promise<void> {
  const up = rp.upstream;
  const log = rp.log.child({ requestId: ctx.requestId });
  if (!rp.websocket) throw new GatewayError('RAMPART_HYGIENE_UPGRADE_REFUSED', { reason: 'route has websocket: false' });
  const protocol = upgradeProtocol(ctx);
  if (protocol === undefined) throw new GatewayError('RAMPART_HYGIENE_UPGRADE_REFUSED', { reason: 'missing, invalid or h2c Upgrade' });
  const target = up.pick();
  if (target === undefined) throw unavailable(up.retryAfterSeconds(), 'no healthy target');
  const permit = up.breaker.acquire();
  if (permit === undefined) throw unavailable(Math.ceil(up.breaker.retryAfterMs() / 1000), 'circuit open');
  rp.notes.set(ctx, { target: target.url, attempts: 1 });

  const closed = new AbortController();
  const onClientClose = (): void => closed.abort(new Error('client closed'));
  client.once('close', onClientClose);
  let upgraded: Dispatcher.UpgradeData;
  try {
    const token = await rp.identity.tokenFor(ctx.principal, up.config.id, rp.generation);
    const headers = upstreamRequestHeaders(ctx, { forwardCredentials: rp.config.forwardCredentials, identityToken: token });
    delete headers['content-length'];
    headers.host = rp.config.preserveHost ? ctx.host : target.authority;
    const options: Dispatcher.UpgradeOptions & { headersTimeout: number } = {
      path: upstreamTarget(ctx.path, ctx.query, rp.stripPrefix),
      method: ctx.method,
      headers,
      protocol,
      signal: AbortSignal.any([ctx.signal, closed.signal]),
      headersTimeout: rp.headersMs,
    };
    upgraded = await target.pool.upgrade(options);
  } catch (err) {
    client.off('close', onClientClose);
    if (ctx.signal.aborted || closed.signal.aborted || client.destroyed) {
      up.breaker.release(permit);
      client.destroy();
      return log.debug({ code: errorCode(err) }, 'client went away before the upgrade completed');
    }
    if (err instanceof GatewayError || !(err instanceof Error) || !('code' in err)) {
      up.breaker.release(permit);
      log.error({ err }, 'upgrade not forwarded');
      throw new GatewayError('RAMPART_GATEWAY_INTERNAL', { reason: 'upgrade not forwarded', cause: err });
    }
    if (err.message === 'bad upgrade') {
      // The upstream answered, but not with 101: a refusal, not an outage.
      up.breaker.release(permit);
      log.warn({ target: target.url }, 'upstream refused the upgrade');
      throw new GatewayError('RAMPART_UPSTREAM_PROTOCOL_ERROR', { reason: 'upstream did not answer 101' });
    }
    const f = classify(err);
    if (f.upstreamFault) {
      up.observe(target, false, f.error.reason ?? f.error.code);
      up.breaker.record(permit, false);
    } else up.breaker.release(permit);
    if (f.tls) tlsFailureEvent(ctx, rp, f.error.reason ?? 'TLS verification failed');
    log.warn({ target: target.url, code: f.error.code, reason: f.error.reason }, 'upstream upgrade failed');
    throw f.error;
  }
  client.off('close', onClientClose);
  up.observe(target, true, 'status 101');
  up.breaker.record(permit, true);
  const upstream = upgraded.socket;
  if (client.destroyed) {
    upstream.destroy();
    return;
  }
  client.write(switchingProtocols(upgraded.headers, protocol));
  if (head.length > 0) upstream.write(head);
  const stopWatch = watchCredential(ctx, () => {
    log.info({ target: target.url }, 'upgraded connection closed: its credential expired or was withdrawn');
    client.destroy();
    upstream.destroy();
  });
  tunnel(client, upstream, () => {
    stopWatch();
    log.debug({ target: target.url }, 'upgraded connection closed');
  });
}

/** How often an open tunnel asks whether its credential was withdrawn (deny-list copy, in memory). */
export const RECHECK_MS = 5_000;

/**
 * S9: an upgraded connection lives no longer than the credential that opened it — closed when the
 * token (or key) expires, and when its grant, subject, client or key is withdrawn (asked every
 * RECHECK_MS through the authn stage's `authn.stillValid`). Returns the function that stops it.
 */
export function watchCredential(ctx: RequestContext, close: () => void, now: () => number = Date.now): () => void {
  const timers: NodeJS.Timeout[] = [];
  const expiresAt = ctx.principal.expiresAt;
  if (expiresAt !== undefined) {
    const ms = Math.max(0, expiresAt * 1000 - now());
    timers.push(setTimeout(close, Math.min(ms, 2_147_483_647)));
  }
  const stillValid = ctx.annotations.get('authn.stillValid');
  if (typeof stillValid === 'function') {
    const t = setInterval(() => {
      if (!(stillValid as () => boolean)()) close();
    }, RECHECK_MS);
    t.unref();
    timers.push(t);
  }
  for (const t of timers) t.unref();
  return () => {
    for (const t of timers) clearTimeout(t);
  };
}

/**
 * The Upgrade token list of the request, which hygiene removed from ctx.headers: the core records
 * it as the `core.upgrade` annotation. h2c is never passed on (request smuggling).
 */
function upgradeProtocol(ctx: RequestContext): string | undefined {
  const raw = ctx.annotations.get('core.upgrade');
  const value = typeof raw === 'string' ? raw.trim() : ctx.headers['sec-websocket-key'] !== undefined ? 'websocket' : undefined;
  if (value === undefined || !PROTOCOLS.test(value) || /(^|,)\s*h2c\s*(,|$)/i.test(value)) return undefined;
  return value;
}

function switchingProtocols(headers: Record<string, string | string[] | undefined>, requested: string): string {
  const upgrade = typeof headers.upgrade === 'string' && FIELD_VALUE.test(headers.upgrade) ? headers.upgrade : requested;
  let out = `HTTP/1.1 101 Switching Protocols\r\nconnection: Upgrade\r\nupgrade: ${upgrade}\r\n`;
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || NOT_RELAYED.has(name) || name.startsWith('proxy-') || name.startsWith('rampart-')) continue;
    for (const v of Array.isArray(value) ? value : [value]) if (FIELD_VALUE.test(v)) out += `${name}: ${v}\r\n`;
  }
  return out + '\r\n';
}

/** Pipes both ways; an error or close on either side closes both. */
function tunnel(a: Duplex, b: Duplex, onClosed: () => void): void {
  let done = false;
  const close = (): void => {
    if (done) return;
    done = true;
    a.destroy();
    b.destroy();
    onClosed();
  };
  for (const s of [a, b]) {
    s.on('error', close);
    s.on('close', close);
  }
  a.pipe(b);
  b.pipe(a);
}
