/**
 * One question — who, which request, when, from where — answered as the gateway answers it, with
 * the gateway's own parts: hygiene and the route table (request.ts), the principal authn would
 * produce (principal.ts), the policy compiled by policyOf and decided by decide() with a trace,
 * the denial as the authz stage's toError() makes it, and the response-ownership check of
 * response.ts when the upstream's answer is given. Shared by `explain` and `test`.
 */
import { Readable } from 'node:stream';
import type { LoadedConfig } from '../../config/load.ts';
import type { RootConfig } from '../../config/types.ts';
import { mergeStageConfig } from '../../config/merge.ts';
import { normaliseIp } from '../../core/net/cidr.ts';
import { hasMethodOverride } from '../../core/http/method-override.ts';
import { GatewayError } from '../../errors/problem.ts';
import { CATALOG } from '../../errors/catalog.ts';
import { authnStage } from '../../stages/authn/index.ts';
import type { AuthnStageConfig } from '../../stages/authn/config.ts';
import { credentialsRequired, invalidApiKey, invalidToken, type ChallengeSchemes } from '../../stages/authn/challenge.ts';
import { authzStage, toError, lookupRefusal, responseRefusal } from '../../stages/authz/index.ts';
import { hasCredentialSource, policyOf, type CompiledRule, type Policy, type RoutePolicy } from '../../stages/authz/policy.ts';
import { decide, ownerValue, type RuleTrace, at, sameOwner } from '../../stages/authz/evaluate.ts';
import { checkResponseOwner } from '../../stages/authz/response.ts';
import { RequestMatcher, type MatchResult, type RequestQuestion } from './request.ts';
import { resolvePrincipal, type PrincipalQuestion, type ResolvedPrincipal } from './principal.ts';
import { ReadOnlyStore } from './store.ts';

/** The client IP when none is given: the CLI asks from this machine. */
export const DEFAULT_IP = '127.0.0.1';

export interface Question extends RequestQuestion, Omit<PrincipalQuestion, 'now'> {
  readonly ip?: string;
  /** Milliseconds since the epoch (default: now). */
  readonly at?: number;
  /** The parsed JSON request body. */
  readonly body?: unknown;
  /** The upstream's JSON answer (2xx), for the response-ownership obligation. */
  readonly response?: { readonly value: unknown };
}

export type Stage = 'hygiene' | 'route' | 'authn' | 'authz' | 'response' | 'off';

export interface Decision {
  readonly allowed: boolean;
  /** Where the answer was made. */
  readonly stage: Stage;
  /** The denial; with `shadow`, the denial shadow mode only logs. */
  readonly error?: GatewayError;
  readonly shadow: boolean;
  /** The allowing rule, or the rule behind the denial (the one that got furthest). */
  readonly rule?: CompiledRule;
  /** Allowed by a rule whose response must belong to the caller: `unchecked` when no response was given. */
  readonly obligation?: 'unchecked' | 'checked';
  readonly reason: string;
}

export interface Outcome {
  readonly match: MatchResult;
  readonly principal: ResolvedPrincipal | undefined;
  readonly now: number;
  readonly ip: string;
  readonly neededScopes: readonly string[];
  readonly decision: Decision;
  readonly trace: readonly RuleTrace[];
}

export interface PolicyContext {
  readonly loaded: LoadedConfig;
  readonly root: RootConfig;
  readonly policy: Policy;
  readonly matcher: RequestMatcher;
  readonly store: ReadOnlyStore;
  readonly schemes: ChallengeSchemes;
}

export function policyContext(loaded: LoadedConfig): PolicyContext {
  const root = loaded.config;
  const { policy } = policyOf(root);
  return {
    loaded, root, policy, matcher: new RequestMatcher(root), store: new ReadOnlyStore(loaded),
    schemes: { realm: policy.realm, bearer: policy.bearer, apiKey: policy.apiKeysEnabled },
  };
}

/** Every token scope that carries a permission some rule of this route and method requires. */
export function scopesNeeded(policy: Policy, route: RoutePolicy | undefined, method: string): string[] {
  const out = new Set<string>();
  for (const rule of route?.byMethod.get(method) ?? []) {
    for (const perm of rule.permissions) for (const s of policy.scopes.get(perm) ?? [perm]) out.add(s);
  }
  return [...out].sort();
}

export async function answer(ctx: PolicyContext, q: Question): Promise<Outcome> {
  const outcome = await decideQuestion(ctx, q);
  // Where the body leaves, the gateway refuses a `_method` in it (src/stages/proxy/forward.ts).
  const body = q.body;
  if (outcome.decision.allowed && q.method === 'POST' && body !== null && typeof body === 'object' && !Array.isArray(body) && hasMethodOverride(Object.keys(body))) {
    const error = new GatewayError('RAMPART_HYGIENE_METHOD_OVERRIDE', { reason: '_method in a JSON body' });
    return { ...outcome, decision: { allowed: false, stage: 'hygiene', error, shadow: false, reason: 'method override in the body' } };
  }
  return outcome;
}

async function decideQuestion(ctx: PolicyContext, q: Question): Promise<Outcome> {
  const now = q.at ?? Date.now();
  const ip = normaliseIp(q.ip ?? DEFAULT_IP);
  const match = ctx.matcher.match(q);
  const base = { match, now, ip };
  if (!match.ok) {
    return { ...base, principal: undefined, neededScopes: [], trace: [], decision: { allowed: false, stage: match.stage, error: match.error, shadow: false, reason: match.error.reason ?? CATALOG[match.error.code].title } };
  }
  const { root, policy } = ctx;
  const route = match.route;
  const routePolicy = policy.routes.get(route.id);
  const neededScopes = scopesNeeded(policy, routePolicy, q.method);
  const principal = await resolvePrincipal(root, { ...q, now }, ctx.store, neededScopes, ctx.schemes);
  const p = principal.principal;
  const result = (decision: Decision, trace: readonly RuleTrace[] = []): Outcome => ({ ...base, principal, neededScopes, decision, trace });
  if (!policy.enabled) {
    return result({ allowed: true, stage: 'off', shadow: false, reason: 'authorization is off: no authorization section and no credential source' });
  }

  const trace: RuleTrace[] = [];
  const body = routePolicy?.bodyMethods.has(q.method) ? q.body : undefined;
  const verdict = decide(policy, routePolicy, { principal: p, method: q.method, clientIp: ip, params: match.params, query: match.query, now, ...(body !== undefined ? { body } : {}) }, trace);

  // What authn refuses before authorization is asked.
  const upstream = root.upstreams.find((u) => u.id === route.upstream);
  const authn = mergeStageConfig<AuthnStageConfig>(authnStage.defaults, root.defaults.authn, upstream?.defaults?.authn, route.authn);
  let refused = principal.refused;
  if (p.kind === 'anonymous' && hasCredentialSource(root) && (authn.required ?? true) && !(authn.required === undefined && routePolicy?.publicMethods.has(q.method))) {
    refused = credentialsRequired(ctx.schemes);
  }
  if (!refused && p.kind === 'key' && (!policy.apiKeysEnabled || !authn.apiKeys)) refused = invalidApiKey(ctx.schemes, 'API keys not accepted on this route');
  if (!refused && (p.kind === 'user' || p.kind === 'client') && authn.issuers && !authn.issuers.includes(principal.issuerId ?? '')) {
    refused = invalidToken(ctx.schemes, 'RAMPART_AUTHN_TOKEN_INVALID', `issuer ${principal.issuerId} not accepted on this route`);
  }
  if (refused) return result({ allowed: false, stage: 'authn', error: refused, shadow: false, reason: refused.reason ?? refused.code }, trace);

  const stageShadow = mergeStageConfig(authzStage.defaults, root.defaults.authz, upstream?.defaults?.authz, route.authz).mode === 'shadow';
  if (!verdict.allowed) {
    const error = toError(policy, verdict.failure, { principal: p });
    return result({ allowed: stageShadow, stage: 'authz', error, shadow: stageShadow, ...(verdict.failure.rule ? { rule: verdict.failure.rule } : {}), reason: error.reason ?? error.code }, trace);
  }
  if (verdict.shadowed) {
    const error = toError(policy, verdict.shadowed, { principal: p });
    return result({ allowed: true, stage: 'authz', error, shadow: true, ...(verdict.rule ? { rule: verdict.rule } : {}), reason: error.reason ?? error.code }, trace);
  }
  const rule = verdict.rule;
  if (!rule) return result({ allowed: true, stage: 'authz', shadow: true, reason: 'no enforced rule: allowed while the shadow rules are on trial' }, trace);
  const o = rule.ownership;
  if (o?.lookup && !o.response) {
    // The gateway would fetch the object first (ownership.lookup); a row gives it as `response`.
    if (!q.response) return result({ allowed: true, stage: 'authz', shadow: false, rule, obligation: 'unchecked', reason: `rule ${rule.id} allows if ${o.lookup.text} is the caller's ${o.attribute}` }, trace);
    const owner = ownerValue(o, p);
    const value = at(q.response.value, o.lookup.field);
    if (owner !== undefined && sameOwner(value, owner)) return result({ allowed: true, stage: 'authz', shadow: false, rule, obligation: 'checked', reason: `rule ${rule.id} allows; the object belongs to the caller` }, trace);
    const error = lookupRefusal(o, rule, value === undefined
      ? { kind: 'unverified', reason: `lookup: no ${o.lookup.field.join('.')}` }
      : { kind: 'mismatch', reason: 'lookup: the object belongs to someone else' });
    const shadow = stageShadow || policy.mode === 'shadow' || rule.mode === 'shadow';
    return result({ allowed: shadow, stage: 'authz', error, shadow, rule, obligation: 'checked', reason: error.reason ?? error.code }, trace);
  }
  if (!o?.response) return result({ allowed: true, stage: 'authz', shadow: false, rule, reason: `rule ${rule.id} allows` }, trace);
  if (!q.response) return result({ allowed: true, stage: 'authz', shadow: false, rule, obligation: 'unchecked', reason: `rule ${rule.id} allows if the response's ${o.response.text} is the caller's ${o.attribute}` }, trace);

  // The response phase: the upstream's answer must belong to the caller.
  const owner = ownerValue(o, p);
  const upstreamAnswer = { status: 200, headers: { 'content-type': 'application/json' }, body: Readable.from([Buffer.from(JSON.stringify(q.response.value) ?? 'null')]) };
  const checked = owner === undefined
    ? { ok: false as const, kind: 'mismatch' as const, reason: 'the caller has no owner value' }
    : await checkResponseOwner(o, owner, q.method, upstreamAnswer, upstream?.maxResponseBytes ?? 8 * 1024 * 1024);
  if (checked.ok) return result({ allowed: true, stage: 'response', shadow: false, rule, obligation: 'checked', reason: `rule ${rule.id} allows; the response belongs to the caller` }, trace);
  const error = responseRefusal(o, rule, checked);
  const shadow = stageShadow || policy.mode === 'shadow' || rule.mode === 'shadow';
  return result({ allowed: shadow, stage: 'response', error, shadow, rule, obligation: 'checked', reason: error.reason ?? error.code }, trace);
}

/** One line: `allow (rule orders-any)`, `deny 404 RAMPART_AUTHZ_NOT_FOUND (rule orders-own)`. */
export function summary(d: Decision): string {
  const rule = d.rule ? ` (rule ${d.rule.id})` : '';
  if (d.stage === 'off') return 'allow (authorization is off)';
  if (d.allowed && d.shadow && d.error) return `allow${rule} (shadow mode: would deny ${d.error.status} ${d.error.code})`;
  if (d.allowed) {
    if (d.obligation !== 'unchecked' || !d.rule) return `allow${rule}`;
    const what = d.rule.ownership?.lookup && !d.rule.ownership.response ? 'the looked-up object' : 'response';
    return `allow (${what} must belong to the caller; rule ${d.rule.id})`;
  }
  const e = d.error as GatewayError;
  return `deny ${e.status} ${e.code}${rule}`;
}
