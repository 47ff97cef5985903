/**
 * The decision: which of the rules of a route and method allows the request, or why none does.
 *
 * Rules of one route and method are alternatives (any one allows). Each rule checks, in order:
 * authenticated → permissions (the caller's roles grant every one) → scope (the token carries
 * them: a token never does more than its user may) → network → schedule → MFA and its freshness →
 * request ownership. When none allows, the denial reported is that of the rule that got furthest
 * (so an admin rule failing on MFA answers with a step-up challenge, not "forbidden"). Among rules
 * that allow, one without a response-ownership obligation wins; the winner's response check, if
 * any, runs in the response phase (ownership.ts).
 *
 * Pure and synchronous: the stage hands in the facts (principal, clock, parsed body) so that the
 * CLI's explain and test commands run exactly this code.
 */
import type { Principal } from '../../core/principal.ts';
import type { CompiledRule, CompiledWindow, Policy, RoutePolicy, CompiledOwnership } from './policy.ts';
import type { Day } from './config.ts';

export type CheckName = 'authenticated' | 'permissions' | 'scope' | 'network' | 'schedule' | 'mfa' | 'ownership';
const RANK: Record<CheckName, number> = { authenticated: 0, permissions: 1, scope: 2, network: 3, schedule: 4, mfa: 5, ownership: 6 };

export interface Facts {
  readonly principal: Principal;
  readonly method: string;
  readonly clientIp: string;
  readonly params: Readonly<Record<string, string>>;
  /** Raw query string without '?'. */
  readonly query: string;
  /** Milliseconds since the epoch. */
  readonly now: number;
  /** The parsed JSON body when a rule of this route and method reads it (undefined: none or not JSON). */
  readonly body?: unknown;
}

export interface CheckResult {
  readonly check: CheckName;
  readonly ok: boolean;
  readonly detail: string;
}

export interface Failure {
  readonly rule: CompiledRule | undefined;
  readonly check: CheckName | 'no-rule';
  readonly reason: string;
  /** Scopes the token lacks (insufficient_scope). */
  readonly missingScopes?: readonly string[];
  /** Step-up: a second factor is missing and/or the authentication is too old. */
  readonly stepUp?: { readonly factor: boolean; readonly maxAge: number | undefined };
  /** Ownership mismatch status. */
  readonly status?: 403 | 404;
}

export interface RuleTrace {
  readonly rule: CompiledRule;
  readonly allowed: boolean;
  readonly checks: readonly CheckResult[];
}

export type Verdict =
  | { readonly allowed: true; readonly rule: CompiledRule; readonly shadowed?: undefined }
  | { readonly allowed: true; readonly rule: CompiledRule | undefined; readonly shadowed: Failure }
  | { readonly allowed: false; readonly failure: Failure };

const NO_RULES: readonly CompiledRule[] = [];

/** Decides one request. `trace`, when given, receives every rule's checks (rampart policy explain). */
export function decide(policy: Policy, route: RoutePolicy | undefined, facts: Facts, trace?: RuleTrace[]): Verdict {
  const rules = route?.byMethod.get(facts.method) ?? NO_RULES;
  let best: Failure | undefined;
  let bestRank = -1;
  let allowed: CompiledRule | undefined;
  for (const rule of rules) {
    const checks: CheckResult[] | undefined = trace ? [] : undefined;
    const f = evaluateRule(policy, rule, facts, checks);
    trace?.push({ rule, allowed: f === undefined, checks: checks ?? [] });
    if (f === undefined) {
      if (!allowed || (allowed.ownership?.response && !rule.ownership?.response)) allowed = rule;
      if (!trace && !rule.ownership?.response) break;
      continue;
    }
    const rank = f.check === 'no-rule' ? -1 : RANK[f.check];
    if (rank > bestRank) {
      best = f;
      bestRank = rank;
    }
  }
  if (allowed) return { allowed: true, rule: allowed };
  const failure: Failure = best ?? { rule: undefined, check: 'no-rule', reason: `no rule allows ${facts.method} on this route` };
  if (policy.mode === 'shadow' || failure.rule?.mode === 'shadow') return { allowed: true, rule: failure.rule, shadowed: failure };
  return { allowed: false, failure };
}

function evaluateRule(policy: Policy, rule: CompiledRule, f: Facts, checks: CheckResult[] | undefined): Failure | undefined {
  const p = f.principal;
  const fail = (check: CheckName, reason: string, extra: Partial<Failure> = {}): Failure => {
    checks?.push({ check, ok: false, detail: reason });
    return { rule, check, reason, ...extra };
  };
  const pass = (check: CheckName, detail: string) => checks?.push({ check, ok: true, detail });

  if (rule.access === 'public') {
    pass('authenticated', 'public: anyone');
    return undefined;
  }
  if (p.kind === 'anonymous') return fail('authenticated', 'no credentials');
  pass('authenticated', `${p.kind}:${p.subject}`);

  if (rule.access === 'permissions') {
    const missing = rule.permissions.filter((perm) => !granted(policy, p.roles, perm));
    if (missing.length) return fail('permissions', `roles [${p.roles.join(', ')}] do not grant ${missing.join(', ')}`);
    pass('permissions', `granted ${rule.permissions.join(', ')} by [${p.roles.join(', ')}]`);
    if (narrows(policy, p)) {
      const lacking = rule.permissions.filter((perm) => !carried(policy, p.scopes, perm));
      if (lacking.length) {
        const needed = lacking.map((perm) => (policy.scopes.get(perm) ?? [perm])[0] as string);
        return fail('scope', `the token's scopes do not carry ${lacking.join(', ')}`, { missingScopes: needed });
      }
      pass('scope', `token scopes carry ${rule.permissions.join(', ')}`);
    }
  }
  if (rule.networks) {
    if (!rule.networks.set.has(f.clientIp)) return fail('network', `${f.clientIp} is outside ${rule.networks.text.join(', ')}`);
    pass('network', `${f.clientIp} in ${rule.networks.text.join(', ')}`);
  }
  if (rule.schedule) {
    const inside = rule.schedule.find((w) => withinWindow(w, f.now));
    if (!inside) return fail('schedule', `outside ${rule.schedule.map((w) => w.text).join('; ')}`);
    pass('schedule', `within ${inside.text}`);
  }
  if (rule.mfa) {
    const factor = p.amr.some((a) => rule.mfa?.amr.has(a));
    const age = p.authTime === undefined ? undefined : Math.floor(f.now / 1000) - p.authTime;
    const stale = rule.mfa.maxAge !== undefined && (age === undefined || age > rule.mfa.maxAge);
    if (!factor || stale) {
      const why = !factor ? `amr [${p.amr.join(', ')}] has none of ${[...rule.mfa.amr].join(', ')}` : age === undefined ? 'no auth_time' : `authenticated ${age} s ago, more than ${rule.mfa.maxAge} s`;
      return fail('mfa', why, { stepUp: { factor: !factor, maxAge: rule.mfa.maxAge } });
    }
    pass('mfa', `amr [${p.amr.join(', ')}]${age !== undefined ? `, authenticated ${age} s ago` : ''}`);
  }
  if (rule.ownership && rule.ownership.request.length) {
    const o = rule.ownership;
    const mine = ownerValue(o, p);
    if (mine === undefined) return fail('ownership', `the caller is not a ${o.kind} of issuer ${o.issuerId} with a ${o.attribute}`, { status: o.onMismatch });
    for (const v of o.request) {
      const values = v.in === 'path' ? [f.params[v.name]] : v.in === 'query' ? new URLSearchParams(f.query).getAll(v.name) : [at(f.body, v.pointer ?? [])];
      if (values.length === 0) return fail('ownership', `query parameter ${v.name} is missing`, { status: o.onMismatch });
      for (const value of values) {
        if (!sameOwner(value, mine)) return fail('ownership', `${v.in} ${v.name} is not the caller's ${o.attribute}`, { status: o.onMismatch });
      }
    }
    pass('ownership', `${o.request.map((v) => `${v.in} ${v.name}`).join(', ')} = the caller's ${o.attribute}`);
  }
  return undefined;
}

export function granted(policy: Policy, roles: readonly string[], permission: string): boolean {
  for (const r of roles) if (policy.roles.get(r)?.has(permission)) return true;
  return false;
}

/** Tokens are narrowed by their scopes; an API key only when it was given scopes. */
function narrows(policy: Policy, p: Principal): boolean {
  return policy.scopeNarrowing && (p.kind !== 'key' || p.scopes.length > 0);
}

function carried(policy: Policy, scopes: readonly string[], permission: string): boolean {
  for (const s of policy.scopes.get(permission) ?? [permission]) if (scopes.includes(s)) return true;
  return false;
}

/** The principal's value owner fields are compared with; undefined when it is of another issuer or kind (S3). */
export function ownerValue(o: CompiledOwnership, p: Principal): string | undefined {
  if (p.issuer !== o.issuer || p.kind !== o.kind) return undefined;
  if (o.attribute === 'subject') return p.subject;
  if (o.attribute === 'tenant') return p.tenant;
  if (o.attribute === 'clientId') return p.clientId;
  const claim = Object.hasOwn(p.claims, o.attribute.slice(6)) ? p.claims[o.attribute.slice(6)] : undefined;
  return typeof claim === 'string' && claim !== '' ? claim : undefined;
}

/**
 * Strings compare exactly; a safe integer equals its decimal text; anything else never matches.
 * Beyond 2^53 one double stands for several ids (9007199254740993 parses as …992), and a service
 * with exact integers would act for an owner other than the one compared here.
 */
export function sameOwner(value: unknown, mine: string): boolean {
  if (typeof value === 'string') return value === mine;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value) === mine;
  return false;
}

/** Follows JSON pointer segments through own properties of objects and indexes of arrays. */
export function at(value: unknown, segments: readonly string[]): unknown {
  let v = value;
  for (const s of segments) {
    if (Array.isArray(v)) {
      if (!/^(0|[1-9]\d{0,8})$/.test(s)) return undefined;
      v = v[Number(s)];
    } else if (v !== null && typeof v === 'object' && Object.hasOwn(v, s)) {
      v = (v as Record<string, unknown>)[s];
    } else return undefined;
  }
  return v;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const DAY_OF: Record<string, Day> = { Mon: 'mon', Tue: 'tue', Wed: 'wed', Thu: 'thu', Fri: 'fri', Sat: 'sat', Sun: 'sun' };
const PREVIOUS: Record<Day, Day> = { mon: 'sun', tue: 'mon', wed: 'tue', thu: 'wed', fri: 'thu', sat: 'fri', sun: 'sat' };

/** Weekday and minutes since midnight at `now` in a time zone. */
export function localTime(timeZone: string, now: number): { day: Day; minutes: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  let day: Day = 'mon';
  let h = 0;
  let m = 0;
  for (const part of f.formatToParts(now)) {
    if (part.type === 'weekday') day = DAY_OF[part.value] ?? 'mon';
    else if (part.type === 'hour') h = Number(part.value);
    else if (part.type === 'minute') m = Number(part.value);
  }
  return { day, minutes: h * 60 + m };
}

export function withinWindow(w: CompiledWindow, now: number): boolean {
  const { day, minutes } = localTime(w.timeZone, now);
  const on = (d: Day) => w.days === undefined || w.days.has(d);
  if (w.from < w.to) return on(day) && minutes >= w.from && minutes < w.to;
  // Spans midnight: the evening part belongs to the listed day, the morning part to the day after it.
  return (on(day) && minutes >= w.from) || (on(PREVIOUS[day]) && minutes < w.to);
}
