/**
 * authn: who is calling. Verifies the Bearer access token (built-in and external issuers) or the
 * API key of a request and sets the principal — the only stage allowed to (DESIGN "Principal").
 *
 * Secure by default: once any credential source is configured (`authentication.issuers`,
 * `authentication.apiKeys.enabled`, or the built-in `authServer`), every route requires
 * authentication unless it says `authn: { required: false }` (warned at start-up). A gateway with
 * no credential source at all has nothing to verify against: its routes stay public, as before
 * authentication existed, and a start-up warning says so. On a route that does not require
 * authentication, credentials that are sent must still be valid (a bad token is never downgraded
 * to anonymous).
 */
import { next, deny, type Stage, type StageModule } from '../../core/stage.ts';
import type { RootConfig } from '../../config/types.ts';
import { publishSecurityEvent } from '../../observe/events.ts';
import { authnStageSchema, type AuthnStageConfig } from './config.ts';
import { authnRuntime } from './runtime.ts';
import { authenticate, type RouteAuthn } from './authenticate.ts';
import { policyOf } from '../authz/policy.ts';

export { insufficientScope, stepUpRequired, bearerChallenge } from './challenge.ts';
export { API_KEY_ISSUER } from './authenticate.ts';

const warned = new WeakSet<RootConfig>();

export const authnStage: StageModule<AuthnStageConfig> = {
  name: 'authn',
  schema: authnStageSchema,
  defaults: { apiKeys: true, mode: 'enforce' },
  async compile(config, env): Promise<Stage> {
    const rt = await authnRuntime(env);
    const routeId = env.route?.id;
    if (!rt.configured) {
      if (config.required === true) throw new Error(`route ${routeId}: authn.required is true but no credential source is configured`);
      if (!warned.has(env.root)) {
        warned.add(env.root);
        env.logger.warn('authn: no credential source is configured (authentication.issuers, authentication.apiKeys, authServer): every route is served to anonymous callers');
      }
      return { name: 'authn' };
    }
    const required = config.required ?? true;
    // A method a public authorization rule allows needs no credentials (sent ones are still checked).
    const anonymousMethods = config.required === undefined && routeId !== undefined ? policyOf(env.root).policy.routes.get(routeId)?.publicMethods : undefined;
    if (!required) env.logger.warn({ route: routeId }, 'authn.required: false — anonymous callers reach this route');
    for (const id of config.issuers ?? []) {
      if (!rt.byId.has(id)) throw new Error(`route ${routeId}: authn.issuers names an unknown issuer "${id}"`);
    }
    const issuers = config.issuers ? new Set(config.issuers) : undefined;
    const route: RouteAuthn = {
      required,
      ...(anonymousMethods?.size ? { anonymousMethods } : {}),
      issuers,
      apiKeys: config.apiKeys,
      audiences: config.audiences ? new Set(config.audiences) : undefined,
      schemes: { realm: rt.realm, bearer: (issuers?.size ?? rt.byId.size) > 0, apiKey: config.apiKeys && rt.apiKeysEnabled },
    };
    return {
      name: 'authn',
      mode: config.mode,
      async onRequest(ctx) {
        const o = await authenticate(rt, route, ctx.headers, ctx.query, ctx.method);
        if (o.ok) {
          if (!o.principal) return next();
          return next({ principal: o.principal, annotations: { 'authn.method': o.method, 'authn.cached': o.cached, ...(o.issuerId ? { 'authn.issuer': o.issuerId } : {}), ...(o.stillValid ? { 'authn.stillValid': o.stillValid } : {}) } });
        }
        publishSecurityEvent({
          'event.kind': 'event', 'event.category': ['authentication'], 'event.action': o.action, 'event.outcome': 'failure',
          ...(o.error.reason ? { 'event.reason': o.error.reason } : {}),
          ...(o.userId ? { 'user.id': o.userId } : {}),
          'source.ip': ctx.clientIp, 'http.request.method': ctx.method, 'url.path': ctx.path, 'trace.id': ctx.traceId,
          'http.response.status_code': o.error.status, 'rampart.code': o.error.code, 'rampart.mode': config.mode,
          ...(routeId ? { 'rampart.route': routeId } : {}),
        });
        return deny(o.error);
      },
      onLog(ctx, entry) {
        const method = ctx.annotations.get('authn.method');
        if (method) entry.authn = { method, cached: ctx.annotations.get('authn.cached'), issuer: ctx.annotations.get('authn.issuer') };
      },
    };
  },
};
