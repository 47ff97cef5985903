/**
 * Forwards one HTTP request: picks a target, sends the request (buffered when a stage read the
 * body, streamed otherwise), retries idempotent requests whose body was not streamed when no
 * response byte came back, and turns the answer into a streamed GatewayResponse.
 */
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../../core/context.ts';
import { deny, type Decision } from '../../core/stage.ts';
import { GatewayError } from '../../errors/problem.ts';
import { peekBody } from './body.ts';
import type { Permit } from './breaker.ts';
import { classify, errorCode, type Failure } from './errors.ts';
import { upstreamRequestHeaders } from './request-headers.ts';
import { respond } from './respond.ts';
import { clientGone, tlsFailureEvent, unavailable, type ProxyNote, type RouteProxy } from './route-proxy.ts';
import { upstreamTarget } from './target-path.ts';
import type { Target } from './target.ts';

/** RFC 9110 §9.2.2: methods whose repetition has the same effect as one request. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

export async function forward(ctx: RequestContext, rp: RouteProxy): Promise<Decision> {
  const up = rp.upstream;
  const note: ProxyNote = { target: undefined, attempts: 0 };
  rp.notes.set(ctx, note);
  const first = up.pick();
  if (first === undefined) return deny(unavailable(up.retryAfterSeconds(), 'no healthy target'));
  const firstPermit = up.breaker.acquire();
  if (firstPermit === undefined) return deny(unavailable(Math.ceil(up.breaker.retryAfterMs() / 1000), 'circuit open'));

  let token: string;
  try {
    token = await rp.identity.tokenFor(ctx.principal, up.config.id, rp.generation);
  } catch (err) {
    up.breaker.release(firstPermit);
    rp.log.error({ requestId: ctx.requestId, err }, 'no Rampart-Identity token: request not forwarded');
    return deny(new GatewayError('RAMPART_GATEWAY_INTERNAL', { reason: 'identity token unavailable', cause: err }));
  }

  let body: Buffer | Readable | null;
  let bodyError: unknown;
  try {
    if (ctx.bodyRead) {
      const buffered = await ctx.body();
      body = buffered.length > 0 ? buffered : null;
    } else if (ctx.bodyless) {
      // Nothing to stream: no Transform, no pipe, no peek for the common GET.
      body = null;
    } else {
      body = await peekBody(ctx.requestStream(), ctx.signal);
      body?.once('error', (e: unknown) => (bodyError = e));
    }
  } catch (err) {
    up.breaker.release(firstPermit);
    return deny(err instanceof GatewayError ? err : clientGone('request body not received', err));
  }
  const streamed = body !== null && !Buffer.isBuffer(body);

  const headers = upstreamRequestHeaders(ctx, { forwardCredentials: rp.config.forwardCredentials, identityToken: token, wholeAnswer: ctx.annotations.has('authz.obligation') });
  // A buffered or empty body gets its length from undici; a stream keeps the client's.
  if (!streamed) delete headers['content-length'];
  const path = upstreamTarget(ctx.path, ctx.query, rp.stripPrefix);
  const attempts = IDEMPOTENT.has(ctx.method) && !streamed ? 1 + up.config.retries.attempts : 1;

  const tried = new Set<Target>();
  let target: Target | undefined = first;
  let permit: Permit | undefined = firstPermit;
  let last: Failure | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) {
      await backoff(up.config.retries.backoffMs, attempt, ctx.signal);
      if (ctx.signal.aborted) return deny(clientGone('client aborted during retry backoff'));
      target = up.pick(tried); // another target when there is one
      permit = target && up.breaker.acquire();
    }
    if (target === undefined || permit === undefined) break; // keep the last failure
    tried.add(target);
    note.target = target.url;
    note.attempts = attempt + 1;
    let res: Dispatcher.ResponseData;
    try {
      res = await target.pool.request({
        method: ctx.method,
        path,
        headers: { ...headers, host: rp.config.preserveHost ? ctx.host : target.authority },
        body,
        signal: ctx.signal,
        headersTimeout: rp.headersMs,
        bodyTimeout: rp.bodyMs,
      });
    } catch (err) {
      if (bodyError !== undefined || ctx.signal.aborted) {
        up.breaker.release(permit);
        if (bodyError instanceof GatewayError) return deny(bodyError); // 413 from requestStream()
        rp.log.debug({ requestId: ctx.requestId, code: errorCode(bodyError ?? err) }, 'client went away before the upstream answered');
        return deny(clientGone('client aborted the request', bodyError ?? err));
      }
      last = classify(err);
      if (last.upstreamFault) {
        up.observe(target, false, last.error.reason ?? last.error.code);
        up.breaker.record(permit, false);
      } else up.breaker.release(permit);
      rp.log.warn({ requestId: ctx.requestId, target: target.url, attempt: attempt + 1, code: last.error.code, reason: last.error.reason }, 'upstream request failed');
      if (last.tls) tlsFailureEvent(ctx, rp, last.error.reason ?? 'TLS verification failed');
      if (!last.retryable) break;
      continue;
    }
    return respond(ctx, rp, target, permit, res);
  }
  return deny(last?.error ?? unavailable(up.retryAfterSeconds(), 'no target left to retry'));
}

/** Exponential backoff with jitter: backoffMs × 2^(attempt-1) × [0.5, 1). */
async function backoff(baseMs: number, attempt: number, signal: AbortSignal): Promise<void> {
  if (baseMs <= 0) return;
  const ms = baseMs * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
  await delay(ms, undefined, { signal }).catch(() => {});
}
