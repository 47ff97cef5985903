/**
 * cors: off by default (S12). When on: an exact-origin allowlist, never the `null` origin, never
 * `*` with credentials, always `Vary: Origin`. Preflights (OPTIONS with Access-Control-Request-Method)
 * are answered here and never reach the upstream (Fetch standard §3.2 "CORS protocol").
 */
import { GatewayError } from '../../errors/problem.ts';
import { next, deny, reply, type Stage, type StageModule } from '../../core/stage.ts';
import { publishSecurityEvent } from '../../observe/events.ts';

export interface CorsConfig {
  readonly enabled: boolean;
  readonly allowOrigins: readonly string[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly exposeHeaders: readonly string[];
  readonly allowCredentials: boolean;
  readonly maxAgeSeconds: number;
}

const ORIGIN = /^https?:\/\/[a-z0-9.-]+(?::\d{1,5})?$|^https?:\/\/\[[0-9a-f:.]+\](?::\d{1,5})?$/;

function appendVary(headers: Record<string, string | string[]>, value: string): void {
  const cur = headers.vary;
  const list = (Array.isArray(cur) ? cur.join(',') : (cur ?? '')).split(',').map((s) => s.trim()).filter(Boolean);
  if (!list.some((v) => v.toLowerCase() === value.toLowerCase() || v === '*')) list.push(value);
  headers.vary = list.join(', ');
}

export const corsStage: StageModule<CorsConfig> = {
  name: 'cors',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      enabled: { type: 'boolean' },
      allowOrigins: { type: 'array', items: { type: 'string' }, maxItems: 1000 },
      allowMethods: { type: 'array', items: { enum: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] } },
      allowHeaders: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9-]+$' } },
      exposeHeaders: { type: 'array', items: { type: 'string', pattern: '^[A-Za-z0-9-]+$' } },
      allowCredentials: { type: 'boolean' },
      maxAgeSeconds: { type: 'integer', minimum: 0, maximum: 86400 },
    },
  },
  defaults: { enabled: false, allowOrigins: [], allowMethods: ['GET', 'HEAD', 'POST'], allowHeaders: ['Content-Type', 'Authorization'], exposeHeaders: [], allowCredentials: false, maxAgeSeconds: 600 },
  check(config) {
    const out: Array<{ path: string; message: string }> = [];
    config.allowOrigins.forEach((o, i) => {
      if (o === 'null') out.push({ path: `allowOrigins.${i}`, message: 'the "null" origin is never allowed (sandboxed frames and file: pages share it)' });
      else if (o === '*' && config.allowCredentials) out.push({ path: `allowOrigins.${i}`, message: '"*" cannot be combined with allowCredentials' });
      else if (o !== '*' && !ORIGIN.test(o)) out.push({ path: `allowOrigins.${i}`, message: 'must be an exact origin like https://app.example.com (lower case, no path)' });
    });
    if (config.enabled && config.allowOrigins.length === 0) out.push({ path: 'allowOrigins', message: 'CORS is enabled but no origin is allowed' });
    return out;
  },
  compile(config, env): Stage {
    if (!config.enabled) {
      // CORS off: a preflight is refused here and never forwarded (S12).
      return {
        name: 'cors',
        onRequest(ctx) {
          const preflight = ctx.method === 'OPTIONS' && ctx.headers.origin !== undefined && typeof ctx.headers['access-control-request-method'] === 'string';
          return preflight ? deny(new GatewayError('RAMPART_CORS_ORIGIN_DENIED', { headers: { vary: 'Origin' }, reason: 'CORS is not enabled on this route' })) : next();
        },
      };
    }
    const any = config.allowOrigins.includes('*');
    const origins = new Set(config.allowOrigins);
    const methods = config.allowMethods.join(', ');
    const allowHeaders = new Set(config.allowHeaders.map((h) => h.toLowerCase()));
    const routeId = env.route?.id;
    const allowedOrigin = (origin: unknown): string | undefined =>
      typeof origin === 'string' && origin !== 'null' && (origins.has(origin) || any) ? (any && !config.allowCredentials ? '*' : origin) : undefined;
    return {
      name: 'cors',
      onRequest(ctx) {
        const origin = ctx.headers.origin;
        const preflight = ctx.method === 'OPTIONS' && typeof ctx.headers['access-control-request-method'] === 'string';
        if (!preflight) return next();
        const allowed = allowedOrigin(origin);
        const method = String(ctx.headers['access-control-request-method']).toUpperCase();
        const requested = String(ctx.headers['access-control-request-headers'] ?? '')
          .split(',')
          .map((h) => h.trim().toLowerCase())
          .filter(Boolean);
        if (!allowed || !config.allowMethods.includes(method) || requested.some((h) => !allowHeaders.has(h))) {
          publishSecurityEvent({
            'event.kind': 'event', 'event.category': ['web'], 'event.action': 'cors.preflight_denied', 'event.outcome': 'failure',
            'source.ip': ctx.clientIp, 'http.request.method': ctx.method, 'url.path': ctx.path, 'trace.id': ctx.traceId,
            'rampart.code': 'RAMPART_CORS_ORIGIN_DENIED', ...(routeId ? { 'rampart.route': routeId } : {}),
          });
          return deny(new GatewayError('RAMPART_CORS_ORIGIN_DENIED', { headers: { vary: 'Origin' }, reason: allowed ? 'method or header not allowed' : 'origin not allowed' }));
        }
        const headers: Record<string, string> = {
          'access-control-allow-origin': allowed,
          'access-control-allow-methods': methods,
          'access-control-max-age': String(config.maxAgeSeconds),
          vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers',
        };
        if (config.allowHeaders.length) headers['access-control-allow-headers'] = config.allowHeaders.join(', ');
        if (config.allowCredentials) headers['access-control-allow-credentials'] = 'true';
        return reply({ status: 204, headers, body: null });
      },
      onResponse(ctx, response) {
        appendVary(response.headers, 'Origin');
        const allowed = allowedOrigin(ctx.headers.origin);
        if (allowed) {
          response.headers['access-control-allow-origin'] = allowed;
          if (config.allowCredentials) response.headers['access-control-allow-credentials'] = 'true';
          if (config.exposeHeaders.length) response.headers['access-control-expose-headers'] = config.exposeHeaders.join(', ');
        }
        return next();
      },
    };
  },
};
