/**
 * authz: which rooms the caller may enter. Decides each request against the policy of the
 * `authorization` section (policy.ts compiles it once per config; evaluate.ts decides), and in the
 * response phase holds the upstream's answer to the winning rule's response-ownership check.
 *
 * Roles are read from the principal per request (authn resolves them per request, S9), and the
 * policy is part of the config generation: a reload that removes a role or a rule takes effect on
 * the next request. Every decision names its rule: the access log's `ruleId`, the security event's
 * `rule.id`. Shadow (the route's `authz.mode`, the section's `mode`, or a rule's own) evaluates,
 * logs "would deny" and lets the request through.
 */
import { next, deny, type Stage, type StageModule } from '../../core/stage.ts';
import type { RequestContext } from '../../core/context.ts';
import { GatewayError } from '../../errors/problem.ts';
import { publishSecurityEvent } from '../../observe/events.ts';
import { credentialsRequired, insufficientScope, stepUpRequired } from '../authn/challenge.ts';
import { authzStageSchema, type AuthzStageConfig } from './config.ts';
import { policyOf, type CompiledOwnership, type CompiledRule, type Policy } from './policy.ts';
import { decide, ownerValue, type Failure } from './evaluate.ts';
import { checkResponseOwner } from './response.ts';

const FORM = /^application\/x-www-form-urlencoded\s*(?:;|$)/i;
const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

export const authzStage: StageModule<AuthzStageConfig> = {
  name: 'authz',
  schema: authzStageSchema,
  defaults: { mode: 'enforce' },
  compile(config, env): Stage {
    const { policy } = policyOf(env.root);
    const routeId = env.route?.id;
    if (!policy.enabled || routeId === undefined) return { name: 'authz' };
    const route = policy.routes.get(routeId);
    const clock = env.clock;
    const maxResponseBytes = env.upstream?.maxResponseBytes ?? 8 * 1024 * 1024;
    if (config.mode === 'shadow') env.logger.warn({ route: routeId }, 'authz.mode: shadow — denials on this route are only logged');

    return {
      name: 'authz',
      mode: config.mode,
      async onRequest(ctx) {
        // `_method` in a form body is a method override (OWASP API5), like the headers hygiene drops.
        if (ctx.method !== 'GET' && ctx.method !== 'HEAD' && FORM.test(String(ctx.headers['content-type'] ?? ''))) {
          const form = new URLSearchParams((await ctx.body()).toString('latin1'));
          if (form.has('_method')) return deny(new GatewayError('RAMPART_HYGIENE_METHOD_OVERRIDE', { detail: 'A `_method` field does not change the request method.', reason: '_method in a form body' }));
        }
        // Ownership by a body value reads the core's one JSON parse; a body that is not JSON has no
        // owner value, and the rule fails closed.
        let body: unknown;
        if (route?.bodyMethods.has(ctx.method) && JSON_TYPE.test(String(ctx.headers['content-type'] ?? ''))) {
          try {
            body = await ctx.json();
          } catch (err) {
            if (err instanceof GatewayError) return deny(err);
            throw err;
          }
        }
        const verdict = decide(policy, route, { principal: ctx.principal, method: ctx.method, clientIp: ctx.clientIp, params: ctx.params, query: ctx.query, now: clock(), body });
        if (!verdict.allowed) {
          const error = toError(policy, verdict.failure, ctx);
          // The route's `authz.mode: shadow` lets the request through like a shadow rule does: a
          // request that passes is reported as "would deny", never as denied.
          if (config.mode === 'shadow') {
            event(ctx, 'authz.would_deny', 'unknown', verdict.failure, error.status);
            return next({ annotations: { 'authz.rule': verdict.failure.rule?.id, 'authz.decision': 'would-deny' } });
          }
          event(ctx, 'authz.denied', 'failure', verdict.failure, error.status);
          return deny(error);
        }
        if (verdict.shadowed) {
          event(ctx, 'authz.would_deny', 'unknown', verdict.shadowed, toError(policy, verdict.shadowed, ctx).status);
          return next({ annotations: { 'authz.rule': verdict.rule?.id, 'authz.decision': 'would-deny' } });
        }
        return next({ annotations: { 'authz.rule': verdict.rule.id, 'authz.decision': 'allow', ...(verdict.rule.ownership?.response ? { 'authz.obligation': verdict.rule } : {}) } });
      },
      async onResponse(ctx, response) {
        const rule = ctx.annotations.get('authz.obligation') as CompiledRule | undefined;
        const o = rule?.ownership;
        if (!rule || !o) return next();
        const owner = ownerValue(o, ctx.principal);
        const checked = owner === undefined
          ? { ok: false as const, kind: 'mismatch' as const, reason: 'the caller has no owner value' }
          : await checkResponseOwner(o, owner, ctx.method, response, maxResponseBytes);
        if (checked.ok) return next();
        const failure: Failure = { rule, check: 'ownership', reason: `response: ${checked.reason}`, status: o.onMismatch };
        const error = checked.kind === 'unverified'
          ? new GatewayError('RAMPART_AUTHZ_RESPONSE_UNVERIFIED', { reason: `rule ${rule.id}: response ${checked.reason}`, ruleId: rule.id })
          : ownershipError(o, rule, failure.reason);
        if (policy.mode === 'shadow' || rule.mode === 'shadow' || config.mode === 'shadow') {
          event(ctx, 'authz.would_deny', 'unknown', failure, error.status);
          return next();
        }
        event(ctx, 'authz.denied', 'failure', failure, error.status);
        return deny(error);
      },
      onLog(ctx, entry) {
        const rule = ctx.annotations.get('authz.rule');
        if (typeof rule === 'string' && entry.ruleId === undefined) entry.ruleId = rule;
        const decision = ctx.annotations.get('authz.decision');
        if (decision === 'would-deny') entry.authz = { decision };
      },
    };
  },
};

function ownershipError(o: CompiledOwnership, rule: CompiledRule, reason: string): GatewayError {
  return new GatewayError(o.onMismatch === 404 ? 'RAMPART_AUTHZ_NOT_FOUND' : 'RAMPART_AUTHZ_NOT_OWNER', { reason: `rule ${rule.id}: ${reason}`, ruleId: rule.id });
}

/** The answer to a denial: 401 challenge, 401 step-up, 403 insufficient_scope, 403/404 ownership, or 403. */
export function toError(policy: Policy, f: Failure, ctx: Pick<RequestContext, 'principal'>): GatewayError {
  const ruleId = f.rule?.id;
  const reason = ruleId ? `rule ${ruleId}: ${f.reason}` : f.reason;
  const withRule = (e: GatewayError): GatewayError => new GatewayError(e.code, { reason, headers: { ...e.headers }, extensions: { ...e.extensions }, ...(e.publicDetail ? { detail: e.publicDetail } : {}), ...(ruleId ? { ruleId } : {}) });
  switch (f.check) {
    case 'authenticated':
      return withRule(credentialsRequired({ realm: policy.realm, bearer: policy.bearer, apiKey: policy.apiKeysEnabled }));
    case 'scope':
      return withRule(insufficientScope(policy.realm, f.missingScopes ?? []));
    case 'mfa':
      // A key or a client cannot present a second factor: stepping up is for users.
      if (ctx.principal.kind === 'user' && f.stepUp) {
        return withRule(stepUpRequired(policy.realm, {
          ...(f.stepUp.factor && policy.mfaAcr ? { acrValues: [policy.mfaAcr] } : {}),
          ...(f.stepUp.maxAge !== undefined ? { maxAge: f.stepUp.maxAge } : {}),
        }));
      }
      return new GatewayError('RAMPART_AUTHZ_DENIED', { reason, ...(ruleId ? { ruleId } : {}) });
    case 'ownership':
      return new GatewayError(f.status === 404 ? 'RAMPART_AUTHZ_NOT_FOUND' : 'RAMPART_AUTHZ_NOT_OWNER', { reason, ...(ruleId ? { ruleId } : {}) });
    default:
      return new GatewayError('RAMPART_AUTHZ_DENIED', { reason, ...(ruleId ? { ruleId } : {}) });
  }
}

function event(ctx: RequestContext, action: string, outcome: 'failure' | 'unknown', f: Failure, status: number): void {
  const p = ctx.principal;
  publishSecurityEvent({
    'event.kind': 'event', 'event.category': ['iam'], 'event.action': action, 'event.outcome': outcome,
    'event.reason': f.reason,
    ...(f.rule ? { 'rule.id': f.rule.id } : {}),
    ...(p.kind === 'user' ? { 'user.id': p.subject } : {}),
    ...(p.clientId ?? (p.kind === 'client' ? p.subject : undefined) ? { 'client.id': p.clientId ?? p.subject } : {}),
    'source.ip': ctx.clientIp, 'http.request.method': ctx.method, 'url.path': ctx.path, 'trace.id': ctx.traceId,
    'http.response.status_code': status,
    ...(ctx.route ? { 'rampart.route': ctx.route.id } : {}),
  });
}
