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
import { isJsonContentType } from '../../core/http/media-type.ts';
import { publishSecurityEvent } from '../../observe/events.ts';
import { credentialsRequired, insufficientScope, stepUpRequired } from '../authn/challenge.ts';
import { authzStageSchema, type AuthzStageConfig } from './config.ts';
import { policyOf, type CompiledOwnership, type CompiledRule, type Policy } from './policy.ts';
import { decide, ownerValue, type Failure } from './evaluate.ts';
import { checkResponseOwner } from './response.ts';
import { lookupOwner, type LookupDeps } from './lookup.ts';
import { sharedUpstream } from '../proxy/upstream.ts';
import { proxyStage } from '../proxy/index.ts';
import { mergeStageConfig } from '../../config/merge.ts';


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
    const builtinIssuer = env.root.authServer ? undefined : env.authn?.builtin?.issuer;
    const maxResponseBytes = env.upstream?.maxResponseBytes ?? 8 * 1024 * 1024;
    let lookups: LookupDeps | undefined;
    if (route?.lookups && env.upstream) {
      const proxy = mergeStageConfig(proxyStage.defaults, env.root.defaults.proxy, env.upstream.defaults?.proxy, env.route?.proxy);
      lookups = {
        upstream: sharedUpstream(env, env.upstream), identity: env.identity, generation: env.generation,
        log: env.logger.child({ stage: 'authz', route: routeId }),
        preserveHost: proxy.preserveHost, headersMs: proxy.timeouts?.headersMs ?? env.upstream.timeouts.headersMs, bodyMs: proxy.timeouts?.bodyMs ?? env.upstream.timeouts.bodyMs,
      };
    }
    // The route's `authz.mode: shadow` lets every denial through, reported as "would deny" with its rule.
    const routeShadow = config.mode === 'shadow';
    if (config.mode === 'shadow') env.logger.warn({ route: routeId }, 'authz.mode: shadow — denials on this route are only logged');

    return {
      name: 'authz',
      mode: config.mode,
      async onRequest(ctx) {
        // Ownership by a body value reads the core's one JSON parse; a body that is not JSON has no
        // owner value, and the rule fails closed.
        let body: unknown;
        if (route?.bodyMethods.has(ctx.method) && isJsonContentType(ctx.headers['content-type'])) {
          try {
            body = await ctx.json();
          } catch (err) {
            if (err instanceof GatewayError) return deny(err);
            throw err;
          }
        }
        const verdict = decide(policy, route, { principal: ctx.principal, method: ctx.method, clientIp: ctx.clientIp, params: ctx.params, query: ctx.query, now: clock(), body, ...(builtinIssuer ? { builtinIssuer } : {}) });
        if (!verdict.allowed) {
          const error = toError(policy, verdict.failure, ctx);
          if (routeShadow) {
            event(ctx, 'authz.would_deny', 'unknown', verdict.failure, error);
            return next({ annotations: { 'authz.rule': verdict.failure.rule?.id, 'authz.decision': 'would-deny' } });
          }
          event(ctx, 'authz.denied', 'failure', verdict.failure, error);
          return deny(error);
        }
        if (verdict.shadowed) event(ctx, 'authz.would_deny', 'unknown', verdict.shadowed, toError(policy, verdict.shadowed, ctx));
        const decision = verdict.shadowed ? 'would-deny' : 'allow';
        const rule = verdict.rule;
        if (!rule) return next({ annotations: { 'authz.decision': decision, ...(verdict.shadowed?.rule ? { 'authz.rule': verdict.shadowed.rule.id } : {}) } });
        // Obligations of a rule on trial (shadow) are checked and logged, never enforced.
        const trial = routeShadow || policy.mode === 'shadow' || rule.mode === 'shadow';
        const refuse = (failure: Failure, error: GatewayError) => {
          if (trial) {
            event(ctx, 'authz.would_deny', 'unknown', failure, error);
            return next({ annotations: { 'authz.rule': rule.id, 'authz.decision': 'would-deny' } });
          }
          event(ctx, 'authz.denied', 'failure', failure, error);
          return deny(error);
        };
        // An upgraded connection's answer is a stream: an owner check of it cannot be made.
        if (rule.ownership?.response && ctx.headers.upgrade !== undefined) {
          const reason = 'the answer of an upgrade cannot be checked for its owner';
          return refuse({ rule, check: 'ownership', reason, status: rule.ownership.onMismatch }, ownershipError(rule.ownership, rule, reason));
        }
        if (rule.ownership?.lookup) {
          const owner = ownerValue(rule.ownership, ctx.principal, builtinIssuer);
          const found = owner === undefined
            ? { ok: false as const, kind: 'mismatch' as const, reason: 'the caller has no owner value' }
            : lookups
              ? await lookupOwner(rule.ownership, owner, ctx, lookups)
              : { ok: false as const, kind: 'unverified' as const, reason: 'no upstream to look the object up in' };
          if (!found.ok) {
            const failure: Failure = { rule, check: 'ownership', reason: found.reason, status: rule.ownership.onMismatch };
            return refuse(failure, lookupRefusal(rule.ownership, rule, found));
          }
        }
        return next({ annotations: passed(rule, decision) });
      },
      async onResponse(ctx, response) {
        const rule = ctx.annotations.get('authz.obligation') as CompiledRule | undefined;
        const o = rule?.ownership;
        if (!rule || !o) return next();
        const owner = ownerValue(o, ctx.principal, builtinIssuer);
        const checked = owner === undefined
          ? { ok: false as const, kind: 'mismatch' as const, reason: 'the caller has no owner value' }
          : await checkResponseOwner(o, owner, ctx.method, response, maxResponseBytes);
        if (checked.ok) return next();
        const failure: Failure = { rule, check: 'ownership', reason: `response: ${checked.reason}`, status: o.onMismatch };
        const error = responseRefusal(o, rule, checked);
        if (routeShadow || policy.mode === 'shadow' || rule.mode === 'shadow') {
          event(ctx, 'authz.would_deny', 'unknown', failure, error);
          return next();
        }
        event(ctx, 'authz.denied', 'failure', failure, error);
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

/** The annotations of a rule that let the request through, built once per rule and decision (read-only). */
const passedAnnotations = new WeakMap<CompiledRule, Partial<Record<'allow' | 'would-deny', Readonly<Record<string, unknown>>>>>();
function passed(rule: CompiledRule, decision: 'allow' | 'would-deny'): Readonly<Record<string, unknown>> {
  let byDecision = passedAnnotations.get(rule);
  if (byDecision === undefined) passedAnnotations.set(rule, (byDecision = {}));
  return (byDecision[decision] ??= Object.freeze({ 'authz.rule': rule.id, 'authz.decision': decision, ...(rule.ownership?.response ? { 'authz.obligation': rule } : {}) }));
}

type Refused = { readonly kind: 'mismatch' | 'missing' | 'unverified'; readonly reason: string };

/** A lookup that did not show the caller's object: unreadable 502, missing and foreign alike 404 (or 403 for foreign). */
export function lookupRefusal(o: CompiledOwnership, rule: CompiledRule, found: Refused): GatewayError {
  if (found.kind === 'unverified') return new GatewayError('RAMPART_AUTHZ_RESPONSE_UNVERIFIED', { reason: `rule ${rule.id}: ${found.reason}`, ruleId: rule.id });
  if (found.kind === 'missing') return new GatewayError('RAMPART_AUTHZ_NOT_FOUND', { reason: `rule ${rule.id}: ${found.reason}`, ruleId: rule.id });
  return ownershipError(o, rule, found.reason);
}

/**
 * An answer that is not the caller's. Unreadable: 502. Foreign, with 404: exactly what a missing
 * object looks like through the gateway (a masked upstream 404), so nobody can tell the two apart.
 */
export function responseRefusal(o: CompiledOwnership, rule: CompiledRule, checked: Refused): GatewayError {
  const reason = `rule ${rule.id}: response: ${checked.reason}`;
  if (checked.kind === 'unverified') return new GatewayError('RAMPART_AUTHZ_RESPONSE_UNVERIFIED', { reason, ruleId: rule.id });
  return o.onMismatch === 404
    ? new GatewayError('RAMPART_UPSTREAM_REJECTED', { status: 404, reason, ruleId: rule.id })
    : new GatewayError('RAMPART_AUTHZ_NOT_OWNER', { reason, ruleId: rule.id });
}

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
          // The built-in server's ACR means something only to it; other issuers get max_age alone.
          ...(f.stepUp.factor && policy.mfaAcr && ctx.principal.issuer === policy.builtinIssuer ? { acrValues: [policy.mfaAcr] } : {}),
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

function event(ctx: RequestContext, action: string, outcome: 'failure' | 'unknown', f: Failure, error: GatewayError): void {
  const p = ctx.principal;
  publishSecurityEvent({
    'event.kind': 'event', 'event.category': ['iam'], 'event.action': action, 'event.outcome': outcome,
    'event.reason': f.reason,
    ...(f.rule ? { 'rule.id': f.rule.id } : {}),
    // S3: a subject is only unique within its issuer (ECS user.domain).
    ...(p.kind === 'user' ? { 'user.id': p.subject, 'user.domain': p.issuer } : {}),
    ...(p.clientId ?? (p.kind === 'client' ? p.subject : undefined) ? { 'client.id': p.clientId ?? p.subject } : {}),
    'source.ip': ctx.clientIp, 'http.request.method': ctx.method, 'url.path': ctx.path, 'trace.id': ctx.traceId,
    'http.response.status_code': error.status, 'rampart.code': error.code,
    ...(ctx.route ? { 'rampart.route': ctx.route.id } : {}),
  });
}
