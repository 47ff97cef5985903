/**
 * throttle: the cheap per-IP limiter, before authentication (DESIGN.md pipeline) — it protects
 * token checks, login and everything after them from floods. Limits are keyed by the client IP as
 * the core resolved it (S5; IPv6 grouped by /64). Beyond a limit: 429 (`onExceed: reject`), or a
 * bounded, fair wait (`onExceed: queue`). Optionally sheds load (503) while the event loop lags.
 */
import { deny, next, type Stage, type StageModule } from '../../core/stage.ts';
import { GatewayError } from '../../errors/problem.ts';
import { publishSecurityEvent } from '../../observe/events.ts';
import { compileLimiter } from '../../ratelimit/compile-limiter.ts';
import { LagMonitor } from '../../ratelimit/lag.ts';
import { checkLimiter, limiterDefaults, limiterProperties, type LimiterConfig } from '../../ratelimit/stage-config.ts';
import { countersFor } from '../../ratelimit/stats.ts';

export interface ThrottleConfig extends LimiterConfig {
  readonly loadShedding: { readonly maxEventLoopLagMs: number; readonly retryAfterSeconds: number };
}

export const throttleStage: StageModule<ThrottleConfig> = {
  name: 'throttle',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...limiterProperties(['ip']),
      loadShedding: {
        type: 'object',
        additionalProperties: false,
        properties: {
          maxEventLoopLagMs: { type: 'integer', minimum: 0, maximum: 60_000 },
          retryAfterSeconds: { type: 'integer', minimum: 1, maximum: 3600 },
        },
      },
    },
  },
  defaults: Object.freeze({ ...limiterDefaults, loadShedding: Object.freeze({ maxEventLoopLagMs: 0, retryAfterSeconds: 2 }) }),
  check: (config) => checkLimiter(config),
  async compile(config, env): Promise<Stage> {
    const limiter = await compileLimiter('throttle', config, env);
    const maxLag = config.loadShedding.maxEventLoopLagMs;
    const lag = maxLag > 0 ? env.keeper.keep('ratelimit.lag', 'event-loop', 'lag', () => new LagMonitor(), (m) => m.stop()) : undefined;
    if (!limiter && !lag) return { name: 'throttle' };
    const counters = countersFor('throttle');
    const retryAfter = String(config.loadShedding.retryAfterSeconds);
    const routeId = env.route?.id;
    return {
      name: 'throttle',
      mode: config.mode,
      onRequest(ctx) {
        if (lag) {
          const ms = lag.lagMs();
          if (ms > maxLag) {
            counters.shed++;
            publishSecurityEvent({
              'event.kind': 'event', 'event.category': ['web'], 'event.action': 'ratelimit.load_shed', 'event.outcome': 'failure',
              'event.reason': `event loop lag ${Math.round(ms)} ms > ${maxLag} ms`, 'source.ip': ctx.clientIp, 'http.request.method': ctx.method,
              'url.path': ctx.path, 'http.response.status_code': 503, 'trace.id': ctx.traceId, 'rampart.code': 'RAMPART_GATEWAY_OVERLOADED',
              'rampart.mode': config.mode, ...(routeId ? { 'rampart.route': routeId } : {}),
            });
            return deny(new GatewayError('RAMPART_GATEWAY_OVERLOADED', { reason: `event loop lag ${Math.round(ms)} ms`, headers: { 'retry-after': retryAfter } }));
          }
        }
        return limiter ? limiter.check(ctx) : next();
      },
      ...(limiter && {
        onResponse: (ctx, response) => limiter.onResponse(ctx, response),
        onLog: (ctx, entry) => limiter.onLog(ctx, entry),
      }),
    };
  },
};
