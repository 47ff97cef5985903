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
import { BUILTIN_ID } from '../authn/config.ts';

export type CheckName = 'authenticated' | 'permissions' | 'scope' | 'network' | 'schedule' | 'mfa' | 'ownership';
/**
 * How far a failing rule got. MFA ranks above ownership although it is checked before it: a
 * step-up challenge is the one failure the caller can act on, so it is the answer when some rule
 * would need only that.
 */
const RANK: Record<CheckName, number> = { authenticated: 0, permissions: 1, scope: 2, network: 3, schedule: 4, ownership: 5, mfa: 6 };

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
  /** The built-in issuer's URL when the config has no authServer (a running one was handed in). */
  readonly builtinIssuer?: string;
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
  | { readonly allowed: true; readonly rule: CompiledRule; readonly shadowed?: Failure }
  | { readonly allowed: true; readonly rule: undefined; readonly shadowed: Failure }
  | { readonly allowed: false; readonly failure: Failure };

const NO_RULES: readonly CompiledRule[] = [];

/**
 * Decides one request. `trace`, when given, receives every rule's checks (rampart policy explain).
 *
 * Shadow rules never decide (Envoy's shadow rules): the enforced rules of the route and method
 * decide, and the shadow rules are evaluated beside them as the policy they would become — when
 * they would deny what the enforced rules allow, the verdict carries that as `shadowed` (logged
 * "would deny"). A method covered by shadow rules only is being rolled out: allowed, and its would-be
 * denial reported. `authorization.mode: shadow` turns every denial into a logged allow.
 */
export function decide(policy: Policy, route: RoutePolicy | undefined, facts: Facts, trace?: RuleTrace[]): Verdict {
  const enforced = route?.byMethod.get(facts.method) ?? NO_RULES;
  const shadow = route?.shadowByMethod.get(facts.method);
  const main = alternatives(policy, enforced, facts, trace);
  const trial = shadow ? alternatives(policy, shadow, facts, trace) : undefined;
  if (main.allowed) {
    return trial && !trial.allowed ? { allowed: true, rule: main.allowed, shadowed: trial.failure } : { allowed: true, rule: main.allowed };
  }
  if (enforced.length === 0 && trial) {
    return trial.allowed
      ? { allowed: true, rule: trial.allowed }
      : { allowed: true, rule: undefined, shadowed: trial.failure };
  }
  if (policy.mode === 'shadow') return { allowed: true, rule: undefined, shadowed: main.failure };
  return { allowed: false, failure: main.failure };
}

/** Rules of one route and method as alternatives: the one that allows (fewest obligations), or the furthest failure. */
function alternatives(policy: Policy, rules: readonly CompiledRule[], facts: Facts, trace: RuleTrace[] | undefined): { allowed: CompiledRule; failure?: undefined } | { allowed?: undefined; failure: Failure } {
  let best: Failure | undefined;
  let bestRank = -1;
  let allowed: CompiledRule | undefined;
  for (const rule of rules) {
    const checks: CheckResult[] | undefined = trace ? [] : undefined;
    const f = evaluateRule(policy, rule, facts, checks);
    trace?.push({ rule, allowed: f === undefined, checks: checks ?? [] });
    if (f === undefined) {
      if (!allowed || (obliges(allowed) && !obliges(rule))) allowed = rule;
      if (!trace && !obliges(rule)) break;
      continue;
    }
    const rank = RANK[f.check as CheckName] ?? -1;
    if (rank > bestRank) {
      best = f;
      bestRank = rank;
    }
  }
  if (allowed) return { allowed };
  return { failure: best ?? { rule: undefined, check: 'no-rule', reason: `no rule allows ${facts.method} on this route` } };
}

/**
 * One rule against the facts. Without a trace (the gateway), nothing is built unless the rule
 * fails: the details of passed checks are only for `rampart policy explain`.
 */
function evaluateRule(policy: Policy, rule: CompiledRule, f: Facts, checks: CheckResult[] | undefined): Failure | undefined {
  const p = f.principal;

  if (rule.access === 'public') {
    if (checks) pass(checks, 'authenticated', 'public: anyone');
    return undefined;
  }
  if (p.kind === 'anonymous') return fail(rule, checks, 'authenticated', 'no credentials');
  if (checks) pass(checks, 'authenticated', `${p.kind}:${p.subject}`);

  if (rule.access === 'permissions') {
    if (!allGranted(policy, p.roles, rule.permissions)) {
      const missing = rule.permissions.filter((perm) => !granted(policy, p.roles, perm));
      return fail(rule, checks, 'permissions', `roles [${p.roles.join(', ')}] do not grant ${missing.join(', ')}`);
    }
    if (checks) pass(checks, 'permissions', `granted ${rule.permissions.join(', ')} by [${p.roles.join(', ')}]`);
    if (narrows(policy, p)) {
      if (!allCarried(policy, p.scopes, rule.permissions)) {
        const lacking = rule.permissions.filter((perm) => !carried(policy, p.scopes, perm));
        const needed = lacking.map((perm) => (policy.scopes.get(perm) ?? [perm])[0] as string);
        return fail(rule, checks, 'scope', `the token's scopes do not carry ${lacking.join(', ')}`, { missingScopes: needed });
      }
      if (checks) pass(checks, 'scope', `token scopes carry ${rule.permissions.join(', ')}`);
    }
  }
  if (rule.networks) {
    if (!rule.networks.set.has(f.clientIp)) return fail(rule, checks, 'network', `${f.clientIp} is outside ${rule.networks.text.join(', ')}`);
    if (checks) pass(checks, 'network', `${f.clientIp} in ${rule.networks.text.join(', ')}`);
  }
  if (rule.schedule) {
    let inside: CompiledWindow | undefined;
    for (const w of rule.schedule) {
      if (withinWindow(w, f.now)) {
        inside = w;
        break;
      }
    }
    if (!inside) return fail(rule, checks, 'schedule', `outside ${rule.schedule.map((w) => w.text).join('; ')}`);
    if (checks) pass(checks, 'schedule', `within ${inside.text}`);
  }
  if (rule.mfa) {
    const mfa = rule.mfa;
    let factor = false;
    for (const a of p.amr) {
      if (mfa.amr.has(a)) {
        factor = true;
        break;
      }
    }
    const age = p.authTime === undefined ? undefined : Math.floor(f.now / 1000) - p.authTime;
    // An auth_time in the future (beyond a minute of clock skew) proves nothing: stale.
    const stale = mfa.maxAge !== undefined && (age === undefined || age > mfa.maxAge || age < -60);
    if (!factor || stale) {
      const why = !factor ? `amr [${p.amr.join(', ')}] has none of ${[...mfa.amr].join(', ')}` : age === undefined ? 'no auth_time' : `authenticated ${age} s ago, more than ${mfa.maxAge} s`;
      return fail(rule, checks, 'mfa', why, { stepUp: { factor: !factor, maxAge: mfa.maxAge } });
    }
    if (checks) pass(checks, 'mfa', `amr [${p.amr.join(', ')}]${age !== undefined ? `, authenticated ${age} s ago` : ''}`);
  }
  if (rule.ownership && rule.ownership.request.length) {
    const o = rule.ownership;
    const mine = ownerValue(o, p, f.builtinIssuer);
    if (mine === undefined) return fail(rule, checks, 'ownership', `the caller is not a ${o.kind} of issuer ${o.issuerId} with a ${o.attribute}`, { status: o.onMismatch });
    for (const v of o.request) {
      let value: unknown;
      if (v.in === 'path') value = f.params[v.name];
      else if (v.in === 'body') value = at(f.body, v.pointer ?? []);
      else {
        const q = queryValue(f.query, v.name);
        if (!q.ok) return fail(rule, checks, 'ownership', q.reason, { status: o.onMismatch });
        value = q.value;
      }
      if (!sameOwner(value, mine)) return fail(rule, checks, 'ownership', `${v.in} ${v.name} is not the caller's ${o.attribute}`, { status: o.onMismatch });
    }
    if (checks) pass(checks, 'ownership', `${o.request.map((v) => `${v.in} ${v.name}`).join(', ')} = the caller's ${o.attribute}`);
  }
  return undefined;
}

/**
 * The one value of a query parameter an ownership rule reads — read the way the strictest and the
 * loosest upstream frameworks would agree on (S11: the upstream must see what was checked): exactly
 * one occurrence; no other key that some framework reads as the same name (`owner[]` for qs and
 * PHP, ` owner` with a leading space, `Owner` for ASP.NET, `owner.x`/`owner_x` mangling); no `;`
 * separators (older Python and Go split on them).
 */
export function queryValue(query: string, name: string): { ok: true; value: string } | { ok: false; reason: string } {
  if (query.includes(';')) return { ok: false, reason: 'a query with ";" is read differently by different frameworks' };
  const canonical = aliasOf(name);
  let value: string | undefined;
  let count = 0;
  for (const [k, v] of new URLSearchParams(query)) {
    if (k === name) {
      count++;
      value = v;
    } else if (aliasOf(k) === canonical) return { ok: false, reason: `query parameter "${k.slice(0, 40)}" aliases ${name}` };
  }
  if (count === 0) return { ok: false, reason: `query parameter ${name} is missing` };
  if (count > 1) return { ok: false, reason: `query parameter ${name} is repeated` };
  return { ok: true, value: value as string };
}

function aliasOf(key: string): string {
  return key.trim().replace(/\[.*$/s, '').replace(/[.\s]/g, '_').toLowerCase();
}

/** The rule leaves work for later: a lookup before forwarding, or a check of the answer. */
export function obliges(rule: CompiledRule): boolean {
  return rule.ownership !== undefined && (rule.ownership.response !== undefined || rule.ownership.lookup !== undefined);
}

function fail(rule: CompiledRule, checks: CheckResult[] | undefined, check: CheckName, reason: string, extra?: Partial<Failure>): Failure {
  checks?.push({ check, ok: false, detail: reason });
  return extra ? { rule, check, reason, ...extra } : { rule, check, reason };
}

function pass(checks: CheckResult[], check: CheckName, detail: string): void {
  checks.push({ check, ok: true, detail });
}

function allGranted(policy: Policy, roles: readonly string[], permissions: readonly string[]): boolean {
  for (const perm of permissions) if (!granted(policy, roles, perm)) return false;
  return true;
}

function allCarried(policy: Policy, scopes: readonly string[], permissions: readonly string[]): boolean {
  for (const perm of permissions) if (!carried(policy, scopes, perm)) return false;
  return true;
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
export function ownerValue(o: CompiledOwnership, p: Principal, builtinIssuer?: string): string | undefined {
  const issuer = o.issuer || (o.issuerId === BUILTIN_ID ? builtinIssuer : undefined);
  if (!issuer || p.issuer !== issuer || p.kind !== o.kind) return undefined;
  if (o.attribute === 'subject') return p.subject;
  if (o.attribute === 'tenant') return p.tenant;
  if (o.attribute === 'clientId') return p.clientId;
  const claim = Object.hasOwn(p.claims, o.attribute.slice(6)) ? p.claims[o.attribute.slice(6)] : undefined;
  return typeof claim === 'string' && claim !== '' ? claim : undefined;
}

/**
 * Strings compare exactly; a safe integer equals its decimal text (beyond 2^53 a JSON number may
 * already be another number once parsed: 9007199254740993 reads as …992); anything else never matches.
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

export interface LocalTime {
  readonly day: Day;
  /** Minutes since local midnight. */
  readonly minutes: number;
}

/** The last millisecond a Date can hold (ECMA-262 §21.4.1.1). */
const MAX_TIME = 8.64e15;

/** Per time zone, the local time of the last UTC minute asked for (schedules ask every request). */
const lastMinute = new Map<string, { readonly utcMinute: number; readonly local: LocalTime }>();

/**
 * Weekday and minutes since midnight at `now` in a time zone. `Intl` is slow (~2 µs a call), so
 * the answer is kept for the rest of the UTC minute when the whole minute is one local minute:
 * its first millisecond is local second 0 and its last is second 59 of the same local minute. That
 * holds unless the zone's offset is not a whole number of minutes (historical local mean times)
 * or changes inside that minute; then each call asks `Intl`.
 */
export function localTime(timeZone: string, now: number): LocalTime {
  const utcMinute = Math.floor(now / 60_000);
  const last = lastMinute.get(timeZone);
  if (last !== undefined && last.utcMinute === utcMinute) return last.local;
  const f = formatterFor(timeZone);
  const start = utcMinute * 60_000;
  if (start >= -MAX_TIME && start + 59_999 <= MAX_TIME) {
    const first = parts(f, start);
    const end = parts(f, start + 59_999);
    if (first.second === 0 && end.second === 59 && first.day === end.day && first.minutes === end.minutes) {
      const local: LocalTime = Object.freeze({ day: first.day, minutes: first.minutes });
      lastMinute.set(timeZone, { utcMinute, local });
      return local;
    }
  }
  const at = parts(f, now);
  return { day: at.day, minutes: at.minutes };
}

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

function parts(f: Intl.DateTimeFormat, at: number): { day: Day; minutes: number; second: number } {
  let day: Day = 'mon';
  let h = 0;
  let m = 0;
  let second = 0;
  for (const part of f.formatToParts(at)) {
    if (part.type === 'weekday') day = DAY_OF[part.value] ?? 'mon';
    else if (part.type === 'hour') h = Number(part.value);
    else if (part.type === 'minute') m = Number(part.value);
    else if (part.type === 'second') second = Number(part.value);
  }
  return { day, minutes: h * 60 + m, second };
}

export function withinWindow(w: CompiledWindow, now: number): boolean {
  const { day, minutes } = localTime(w.timeZone, now);
  const on = (d: Day) => w.days === undefined || w.days.has(d);
  if (w.from < w.to) return on(day) && minutes >= w.from && minutes < w.to;
  // Spans midnight: the evening part belongs to the listed day, the morning part to the day after it.
  return (on(day) && minutes >= w.from) || (on(PREVIOUS[day]) && minutes < w.to);
}
