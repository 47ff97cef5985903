/**
 * Per-upstream concurrency (`upstreams[].concurrency`): a request holds a slot from before it is
 * forwarded until its response body has ended (or failed, or the client went away); beyond
 * `maxInFlight` it waits in a bounded queue, and beyond that it gets 503
 * RAMPART_UPSTREAM_SATURATED with Retry-After — the upstream is protected, not flooded.
 * WebSocket tunnels are not counted (they are long-lived by nature).
 */
import type { Readable } from 'node:stream';
import type { RequestContext } from '../../core/context.ts';
import { deny, type Decision } from '../../core/stage.ts';
import { GatewayError } from '../../errors/problem.ts';
import { publishSecurityEvent } from '../../observe/events.ts';
import type { ConcurrencyLimit, Release } from '../../ratelimit/concurrency.ts';
import { countersFor } from '../../ratelimit/stats.ts';

export async function gated(ctx: RequestContext, limit: ConcurrencyLimit, upstreamId: string, routeId: string, run: () => Promise<Decision>): Promise<Decision> {
  const slot = limit.acquire(ctx.signal);
  const release: Release | undefined = slot instanceof Promise ? await slot : slot;
  if (!release) {
    countersFor('proxy').saturated++;
    publishSecurityEvent({
      'event.kind': 'event', 'event.category': ['network'], 'event.action': 'proxy.upstream_saturated', 'event.outcome': 'failure',
      'event.reason': `upstream ${upstreamId}: ${limit.settings.maxInFlight} in flight, ${limit.waiting} waiting`,
      'source.ip': ctx.clientIp, 'http.request.method': ctx.method, 'url.path': ctx.path, 'http.response.status_code': 503,
      'trace.id': ctx.traceId, 'rampart.code': 'RAMPART_UPSTREAM_SATURATED', 'rampart.route': routeId,
    });
    return deny(new GatewayError('RAMPART_UPSTREAM_SATURATED', { reason: `upstream ${upstreamId} saturated`, headers: { 'retry-after': '1' } }));
  }
  let d: Decision;
  try {
    d = await run();
  } catch (err) {
    release();
    throw err;
  }
  const body = d.kind === 'reply' ? d.response.body : null;
  if (body && !Buffer.isBuffer(body)) {
    const stream = body as Readable;
    if (stream.destroyed || stream.readableEnded) release();
    else stream.once('close', release);
  } else release();
  return d;
}
