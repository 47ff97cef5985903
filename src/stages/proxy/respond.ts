/**
 * The upstream's answer as a GatewayResponse: 5xx masked unless the route passes them, the
 * response size capped (S11), hop-by-hop fields dropped, body and trailers streamed through.
 */
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../../core/context.ts';
import { deny, reply, type Decision } from '../../core/stage.ts';
import { GatewayError } from '../../errors/problem.ts';
import { capBody, mappedError } from './body.ts';
import type { Permit } from './breaker.ts';
import { errorCode } from './errors.ts';
import { clientResponseHeaders, clientTrailers } from './response-headers.ts';
import type { RouteProxy } from './route-proxy.ts';
import type { Target } from './target.ts';

export function respond(ctx: RequestContext, rp: RouteProxy, target: Target, permit: Permit, res: Dispatcher.ResponseData): Decision {
  const up = rp.upstream;
  const status = res.statusCode;
  const ok = status < 500;
  up.observe(target, ok, `status ${status}`);
  up.breaker.record(permit, ok);
  // Made only when something is logged: a child logger per request costs measurable CPU.
  const log = (): typeof rp.log => rp.log.child({ requestId: ctx.requestId, target: target.url, status });

  if (status >= 400 && status < 500 && !rp.config.passUpstreamErrors.includes('4xx')) {
    // S11: an upstream's 4xx text (a framework's exception message, a stack trace) never reaches
    // the client verbatim; its status and the headers that tell the client what to do next do.
    void res.body.dump({ limit: 64 * 1024 }).catch(() => {});
    const keep: Record<string, string> = {};
    for (const name of KEPT_ON_REJECTION) {
      const v = res.headers[name];
      if (typeof v === 'string' && !/[\r\n]/.test(v)) keep[name] = v;
    }
    return deny(new GatewayError('RAMPART_UPSTREAM_REJECTED', { status, reason: `upstream answered ${status}`, headers: keep }));
  }

  if (!ok && !rp.config.passUpstreamErrors.includes('5xx')) {
    // S11: the upstream's error text never reaches the client; its status does.
    void res.body.dump({ limit: 64 * 1024 }).catch(() => {});
    log().warn({}, 'upstream 5xx replaced by problem+json');
    const retryAfter = status === 503 ? retryAfterValue(res.headers['retry-after']) : undefined;
    return deny(new GatewayError('RAMPART_UPSTREAM_ERROR', {
      status,
      reason: `upstream answered ${status}`,
      ...(retryAfter !== undefined && { headers: { 'retry-after': retryAfter } }),
    }));
  }

  const max = up.config.maxResponseBytes;
  // A HEAD, 204 or 304 answer declares a length it does not send.
  const bodiless = ctx.method === 'HEAD' || status === 204 || status === 304;
  const declared = res.headers['content-length'];
  if (!bodiless && typeof declared === 'string' && /^\d+$/.test(declared) && Number(declared) > max) {
    res.body.destroy();
    log().warn({ contentLength: declared, max }, 'upstream response larger than maxResponseBytes');
    return deny(new GatewayError('RAMPART_UPSTREAM_RESPONSE_TOO_LARGE', { reason: `Content-Length ${declared} > ${max}` }));
  }

  const capped = capBody(res.body, max, bodyError);
  // Headers are gone by now: a failing body aborts the client response; it is logged here, and
  // this listener also keeps an unobserved stream error from taking the process down.
  capped.body.on('error', (raw) => {
    if (ctx.signal.aborted) return log().debug({ bytes: capped.bytes() }, 'client went away during the response body');
    const err = mappedError(capped.body, raw);
    const e = err instanceof GatewayError ? err : undefined;
    log().warn({ bytes: capped.bytes(), code: e?.code ?? errorCode(err), reason: e?.reason }, 'upstream response body aborted mid-stream');
  });
  return reply({
    status,
    headers: clientResponseHeaders(res.headers),
    body: capped.body,
    trailers: () => clientTrailers(res.trailers),
    upstream: up.config.id,
  });
}

/** A failing upstream body, in catalog terms (the capped body's error mapping). */
function bodyError(err: unknown): GatewayError {
  const code = errorCode(err);
  return code === 'UND_ERR_BODY_TIMEOUT'
    ? new GatewayError('RAMPART_UPSTREAM_TIMEOUT', { reason: 'upstream body timeout', cause: err })
    : new GatewayError('RAMPART_UPSTREAM_ERROR', { reason: `upstream body ${code}`, cause: err });
}

/** Headers of a masked 4xx that the client needs (RFC 9110 §11.6.1, §10.2.1, §10.2.3). */
const KEPT_ON_REJECTION = ['www-authenticate', 'allow', 'retry-after'] as const;

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date; anything else is dropped. */
function retryAfterValue(value: string | string[] | undefined): string | undefined {
  if (typeof value !== 'string') return undefined;
  if (/^\d{1,9}$/.test(value)) return value;
  return value.length <= 40 && /^[A-Za-z]{3}, \d{2} [A-Za-z]{3} \d{4} \d{2}:\d{2}:\d{2} GMT$/.test(value) ? value : undefined;
}
