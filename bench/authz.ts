/**
 * Authorization benchmark (not a test): `node bench/authz.ts [--n 200000] [--rounds 7]`.
 *
 * Issue #4: "Rules compile to a lookup per route: ≤ 5 µs per decision with 200 routes and 50
 * roles." A generated policy of that size (40 resources × 5 routes; 10 departments × 5 roles in
 * inheritance chains, wildcards among them; 162 permissions; 442 rules, several per route and
 * method, with alternatives, networks, schedules, MFA and request/response ownership) is loaded
 * with the real config loader and compiled with the real compilePolicy(), then:
 *
 * 1. CPU µs per decision of `decide()` (evaluate.ts) for the typical cases: an allowed permission
 *    check (first rule), an allowed second alternative, a denial (the furthest rule reported),
 *    request ownership by path and by body, a rule with networks + schedule (local time through
 *    Intl), and a rule with a response obligation that gives way to a plain one;
 * 2. the whole stage: `onRequest` of the compiled authz stage with a minimal request context, for
 *    an allowed request and a denied one (the 403 problem and its security event, one no-op
 *    subscriber listening as the gateway's event log does);
 * 3. the compile time of the policy (compilePolicy on the loaded config), and of the whole load
 *    (parseConfig: YAML, schemas, every check), the first one and later ones (a reload).
 *
 * CPU time from process.cpuUsage (user + system) over n calls, after a warm-up; median of the
 * rounds. The clock the decisions see advances 1 ms per call (a busy gateway), so a per-minute
 * cache would be exercised as in production, not hit forever.
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/load.ts';
import { mergeStageConfig } from '../src/config/merge.ts';
import { Keeper } from '../src/core/keeper.ts';
import type { CompileEnv } from '../src/core/compile-env.ts';
import type { RequestContext } from '../src/core/context.ts';
import type { Principal } from '../src/core/principal.ts';
import { onSecurityEvent } from '../src/observe/events.ts';
import { STAGES } from '../src/stages/index.ts';
import { authzStage } from '../src/stages/authz/index.ts';
import { compilePolicy, type Policy } from '../src/stages/authz/policy.ts';
import { decide, type Facts, type Verdict } from '../src/stages/authz/evaluate.ts';

const { values } = parseArgs({ options: { n: { type: 'string', default: '200000' }, rounds: { type: 'string', default: '7' } } });
const N = Number(values.n);
const ROUNDS = Number(values.rounds);
const TARGET_US = 5;
const ISSUER = 'https://localhost:8443/auth';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

// ---------------------------------------------------------------------------------------------
// The generated config: 200 routes, 50 roles.

const RESOURCES = [
  'orders', 'invoices', 'payments', 'refunds', 'customers', 'accounts', 'contracts', 'quotes',
  'products', 'prices', 'stock', 'shipments', 'returns', 'suppliers', 'purchases', 'tickets',
  'messages', 'documents', 'reports', 'budgets', 'expenses', 'payroll', 'employees', 'candidates',
  'policies', 'claims', 'assets', 'devices', 'licenses', 'projects', 'tasks', 'releases',
  'builds', 'incidents', 'alerts', 'campaigns', 'leads', 'coupons', 'warehouses', 'carriers',
] as const;
const DEPARTMENTS = ['sales', 'billing', 'support', 'ops', 'hr', 'legal', 'finance', 'eng', 'marketing', 'logistics'] as const;
const OFFICE = ['10.0.0.0/8', '192.168.0.0/16', '2001:db8::/32'];

function generate(): string {
  const permissions: Record<string, object> = {};
  for (const r of RESOURCES) {
    permissions[`${r}:read`] = { description: `Read ${r}` };
    permissions[`${r}:write`] = { description: `Create and change ${r}` };
    permissions[`${r}:admin`] = { description: `Act on every ${r} record`, scopes: [`${r}:admin`, 'admin'] };
    permissions[`${r}:export`] = { description: `Bulk export of ${r}` };
  }
  permissions['audit:read'] = { description: 'Read every list and history', scopes: ['audit'] };
  permissions['support:read'] = { description: "Read a customer's records on their behalf", scopes: ['support'] };

  // 10 departments × 5 roles: viewer → editor → exporter → manager → head (inheritance chains of
  // up to 5, the head also inheriting the next department's viewer); managers by wildcard.
  const roles: Record<string, object> = {};
  DEPARTMENTS.forEach((d, i) => {
    const own = RESOURCES.slice(i * 4, i * 4 + 4);
    roles[`${d}-viewer`] = { permissions: own.map((r) => `${r}:read`) };
    roles[`${d}-editor`] = { inherits: [`${d}-viewer`], permissions: own.map((r) => `${r}:write`) };
    roles[`${d}-exporter`] = { inherits: [`${d}-editor`], permissions: own.map((r) => `${r}:export`) };
    roles[`${d}-manager`] = { inherits: [`${d}-exporter`], permissions: own.map((r) => `${r}:*`) };
    roles[`${d}-head`] = { inherits: [`${d}-manager`, `${DEPARTMENTS[(i + 1) % DEPARTMENTS.length]}-viewer`], permissions: d === 'support' ? ['audit:read', 'support:read'] : ['audit:read'] };
  });
  (roles['support-viewer'] as { permissions: string[] }).permissions.push('support:read');

  const routes: object[] = [];
  const rules: object[] = [];
  for (const r of RESOURCES) {
    routes.push(
      { id: `${r}-list`, path: `/${r}`, methods: ['GET', 'POST'], upstream: 'up' },
      { id: `${r}-item`, path: `/${r}/{id}`, methods: ['GET', 'PUT', 'PATCH', 'DELETE'], upstream: 'up' },
      { id: `${r}-owner`, path: `/owners/{owner}/${r}`, methods: ['GET'], upstream: 'up' },
      { id: `${r}-export`, path: `/${r}/export`, methods: ['POST'], upstream: 'up' },
      { id: `${r}-history`, path: `/${r}/{id}/history`, methods: ['GET'], upstream: 'up' },
    );
    rules.push(
      { id: `${r}-list-read`, route: `${r}-list`, methods: ['GET'], permissions: [`${r}:read`] },
      { id: `${r}-create`, route: `${r}-list`, methods: ['POST'], permissions: [`${r}:write`] },
      { id: `${r}-item-own`, route: `${r}-item`, methods: ['GET'], permissions: [`${r}:read`], ownership: { response: { field: 'ownerId' } } },
      { id: `${r}-item-any`, route: `${r}-item`, methods: ['GET'], permissions: [`${r}:read`, `${r}:admin`] },
      { id: `${r}-item-change`, route: `${r}-item`, methods: ['PUT', 'PATCH'], permissions: [`${r}:write`] },
      { id: `${r}-item-delete`, route: `${r}-item`, methods: ['DELETE'], permissions: [`${r}:admin`], mfa: { maxAgeSeconds: 900 } },
      { id: `${r}-mine`, route: `${r}-owner`, authenticated: true, ownership: { request: [{ path: 'owner' }], onMismatch: 403 } },
      { id: `${r}-support`, route: `${r}-owner`, permissions: ['support:read'], schedule: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '08:00', to: '18:00', timeZone: 'Europe/Berlin' }] },
      { id: `${r}-export-office`, route: `${r}-export`, permissions: [`${r}:export`], networks: OFFICE, schedule: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '07:00', to: '20:00' }, { days: ['sat'], from: '22:00', to: '02:00' }] },
      { id: `${r}-export-own`, route: `${r}-export`, permissions: [`${r}:read`], ownership: { request: [{ body: '/ownerId' }] } },
      { id: `${r}-history`, route: `${r}-history`, permissions: [`${r}:read`] },
    );
  }
  // Rules spanning many routes: the second alternative of every list and history.
  rules.push(
    { id: 'audit-lists', routes: RESOURCES.map((r) => `${r}-list`), methods: ['GET'], permissions: ['audit:read'], networks: OFFICE },
    { id: 'audit-history', routes: RESOURCES.map((r) => `${r}-history`), permissions: ['audit:read'], mfa: true },
  );

  return stringify({
    listeners: [{ name: 'public', port: 8443, protocol: 'https', tls: { dev: true } }],
    authServer: {
      issuer: ISSUER,
      resources: [{ indicator: 'https://localhost:8443/api', scopes: ['admin', 'audit', 'support'] }],
      defaultResource: 'https://localhost:8443/api',
    },
    authentication: { apiKeys: { enabled: true } },
    upstreams: [{ id: 'up', targets: [{ url: 'http://127.0.0.1:9000' }] }],
    routes,
    authorization: { timeZone: 'Europe/Paris', permissions, roles, rules },
  }, { lineWidth: 0 });
}

// ---------------------------------------------------------------------------------------------
// Measurement.

/** CPU µs per call (user + system), median of the rounds after a warm-up. */
function cpuPerCall(n: number, fn: (i: number) => unknown): { median: number; rounds: number[] } {
  for (let i = 0; i < Math.min(n, 50_000); i++) fn(i);
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) fn(i);
    const c = process.cpuUsage(c0);
    rounds.push((c.user + c.system) / n);
  }
  return { median: median(rounds), rounds };
}

async function cpuPerCallAsync(n: number, fn: (i: number) => unknown): Promise<{ median: number; rounds: number[] }> {
  for (let i = 0; i < Math.min(n, 50_000); i++) await fn(i);
  const rounds: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const c0 = process.cpuUsage();
    for (let i = 0; i < n; i++) await fn(i);
    const c = process.cpuUsage(c0);
    rounds.push((c.user + c.system) / n);
  }
  return { median: median(rounds), rounds };
}

const text = generate();
const t0 = process.cpuUsage();
const loaded = parseConfig(text, 'bench-authz.yaml', process.cwd(), STAGES);
const loadUs = ((c) => c.user + c.system)(process.cpuUsage(t0));
const root = loaded.config;
// Later loads (a hot reload): the schemas are compiled, the YAML and every check run again.
const reloadRuns: number[] = [];
for (let i = 0; i < 5; i++) {
  const c0 = process.cpuUsage();
  parseConfig(text, 'bench-authz.yaml', process.cwd(), STAGES);
  const c = process.cpuUsage(c0);
  reloadRuns.push(c.user + c.system);
}
const compileRuns: number[] = [];
let compiled = compilePolicy(root);
for (let i = 0; i < 15; i++) {
  const c0 = process.cpuUsage();
  compiled = compilePolicy(root);
  const c = process.cpuUsage(c0);
  compileRuns.push(c.user + c.system);
}
const errors = compiled.issues.filter((i) => i.severity === 'error');
if (errors.length) throw new Error(`the generated policy does not compile: ${errors.map((e) => `${e.path.join('.')}: ${e.message}`).join('\n')}`);
const policy: Policy = compiled.policy;

// Monday 2026-11-30 10:00 in Paris (09:00 UTC); the clock advances 1 ms per decision.
const MONDAY_10 = Date.parse('2026-11-30T09:00:00Z');
const user = (subject: string, roles: string[], scopes: string[]): Principal => ({
  kind: 'user', subject, issuer: ISSUER, roles, scopes, amr: ['pwd', 'otp'], acr: 'urn:rampart:acr:mfa',
  authTime: Math.floor(MONDAY_10 / 1000) - 60, claims: { sub: subject },
});
// A token with the usual handful of scopes (openid, profile, the permissions it carries).
const alice = user('alice', ['sales-editor', 'billing-viewer'], ['openid', 'profile', 'orders:read', 'orders:write', 'invoices:read', 'invoices:write', 'quotes:read', 'customers:read']);
const exporter = user('erin', ['support-exporter'], ['openid', 'profile', 'stock:read', 'stock:export', 'stock:write', 'shipments:read']);
const auditor = user('adam', ['legal-head', 'finance-viewer'], ['openid', 'profile', 'audit', 'admin', 'policies:read']);
const manager = user('mona', ['sales-manager'], ['openid', 'profile', 'orders:read', 'orders:write', 'admin']);
const supporter = user('sam', ['support-viewer'], ['openid', 'profile', 'support', 'tickets:read']);

interface Case {
  readonly label: string;
  readonly route: string;
  readonly facts: Facts;
  /** `allow:RULE` or `deny:CHECK:RULE`. */
  readonly expect: string;
}
const facts = (principal: Principal, method: string, over: Partial<Facts> = {}): Facts => ({ principal, method, clientIp: '10.1.2.3', params: {}, query: '', now: MONDAY_10, ...over });
const cases: Case[] = [
  { label: 'allowed, first rule (permissions + scope)', route: 'orders-list', facts: facts(alice, 'GET'), expect: 'allow:orders-list-read' },
  { label: 'allowed, second alternative (+ network)', route: 'orders-list', facts: facts(auditor, 'GET'), expect: 'allow:audit-lists' },
  { label: 'denied, furthest rule reported (network)', route: 'orders-list', facts: facts(auditor, 'GET', { clientIp: '203.0.113.7' }), expect: 'deny:network:audit-lists' },
  { label: 'request ownership, path (authenticated)', route: 'orders-owner', facts: facts(alice, 'GET', { params: { owner: 'alice' } }), expect: 'allow:orders-mine' },
  { label: 'request ownership, body (2nd alternative)', route: 'orders-export', facts: facts(alice, 'POST', { body: { ownerId: 'alice', format: 'csv' } }), expect: 'allow:orders-export-own' },
  { label: 'schedule (Intl) + network, allowed', route: 'stock-export', facts: facts(exporter, 'POST'), expect: 'allow:stock-export-office' },
  { label: 'schedule, 2nd alternative after ownership', route: 'tickets-owner', facts: facts(supporter, 'GET', { params: { owner: 'bob' } }), expect: 'allow:tickets-support' },
  { label: 'response obligation gives way to plain rule', route: 'orders-item', facts: facts(manager, 'GET', { params: { id: 'o-1' } }), expect: 'allow:orders-item-any' },
];

const outcome = (v: Verdict): string => v.allowed ? (v.shadowed ? `shadow:${v.shadowed.check}` : `allow:${v.rule?.id ?? "-"}`) : `deny:${v.failure.check}:${v.failure.rule?.id ?? '-'}`;
for (const c of cases) {
  const got = outcome(decide(policy, policy.routes.get(c.route), c.facts));
  if (got !== c.expect) throw new Error(`${c.label}: expected ${c.expect}, got ${got}`);
}

// ---------------------------------------------------------------------------------------------

const rows: Array<[string, number, number[]]> = [];
for (const c of cases) {
  const route = policy.routes.get(c.route);
  // The clock moves 1 ms per decision, as it would at 1,000 requests per second.
  const r = cpuPerCall(N, (i) => decide(policy, route, { ...c.facts, now: MONDAY_10 + i }));
  rows.push([`decide: ${c.label}`, r.median, r.rounds]);
}
// The cost of the facts object itself (included in every decide row above), for reference.
{
  const f = cases[0]!.facts;
  const r = cpuPerCall(N, (i) => ({ ...f, now: MONDAY_10 + i }));
  rows.push(['  (reference: building the facts object)', r.median, r.rounds]);
}

// The whole stage, compiled for one route as the gateway does, with a minimal request context.
const keeper = new Keeper();
async function stageFor(routeId: string) {
  const route = root.routes.find((r) => r.id === routeId);
  const env: CompileEnv = {
    root, route, upstream: root.upstreams[0], logger: pino({ level: 'silent' }), keeper,
    identity: { tokenFor: async () => '' }, generation: 1, dataDir: '/tmp', dev: true, clock: () => MONDAY_10,
  };
  return authzStage.compile(mergeStageConfig(authzStage.defaults, route?.authz), env);
}
const ctxFor = (principal: Principal, clientIp: string): RequestContext => ({
  requestId: 'req', traceId: '0'.repeat(32), method: 'GET', path: '/orders', query: '', params: {}, headers: { accept: 'application/json' },
  clientIp, peerIp: clientIp, principal, route: root.routes.find((r) => r.id === 'orders-list'),
}) as unknown as RequestContext;
const listStage = await stageFor('orders-list');
const okCtx = ctxFor(alice, '10.1.2.3');
const noCtx = ctxFor(auditor, '203.0.113.7');
{
  const a = await listStage.onRequest!(okCtx);
  if (a.kind !== 'next' || a.patch?.annotations?.['authz.rule'] !== 'orders-list-read') throw new Error(`stage, allowed: ${JSON.stringify(a)}`);
  const d = await listStage.onRequest!(noCtx);
  if (d.kind !== 'deny' || d.error.code !== 'RAMPART_AUTHZ_DENIED' || d.error.ruleId !== 'audit-lists') throw new Error(`stage, denied: ${JSON.stringify(d)}`);
}
{
  const r = await cpuPerCallAsync(N, () => listStage.onRequest!(okCtx));
  rows.push(['stage onRequest: allowed (first rule)', r.median, r.rounds]);
}
{
  let events = 0;
  const off = onSecurityEvent(() => {
    events++;
  });
  const r = await cpuPerCallAsync(Math.min(N, 100_000), () => listStage.onRequest!(noCtx));
  off();
  if (events === 0) throw new Error('no security event was published for the denials');
  rows.push(['stage onRequest: denied (403 problem + security event)', r.median, r.rounds]);
}
await keeper.closeAll();

// ---------------------------------------------------------------------------------------------

const p = policy;
const ruleCount = p.rules.length;
const perRoute = [...p.routes.values()].map((r) => [...r.byMethod.values()].reduce((s, l) => Math.max(s, l.length), 0));
const load = os.loadavg();
console.log(`authz: ${root.routes.length} routes, ${p.roles.size} roles, ${p.scopes.size} permissions, ${ruleCount} rules (up to ${Math.max(...perRoute)} per route and method); ${compiled.issues.length} lint warnings`);
console.log(`node ${process.version}, ${os.cpus().length} × ${os.cpus()[0]?.model.trim() ?? '?'}; load average ${load.map((x) => x.toFixed(2)).join(' ')}; n = ${N}, ${ROUNDS} rounds, CPU µs per call (median):`);
console.log('');
console.log(`  ${'compilePolicy (the policy alone)'.padEnd(58)} ${(median(compileRuns) / 1000).toFixed(2).padStart(8)} ms  (15 runs)`);
console.log(`  ${'parseConfig + every check (the whole load, first run)'.padEnd(58)} ${(loadUs / 1000).toFixed(2).padStart(8)} ms`);
console.log(`  ${'parseConfig + every check (a reload)'.padEnd(58)} ${(median(reloadRuns) / 1000).toFixed(2).padStart(8)} ms  (5 runs)`);
for (const [label, us, rounds] of rows) {
  const mark = label.startsWith('  ') ? '' : us <= TARGET_US ? '  ✓' : '  ✗';
  console.log(`  ${label.padEnd(58)} ${us.toFixed(2).padStart(8)} µs${mark}  (${rounds.map((x) => x.toFixed(2)).join(' ')})`);
}
const missed = rows.filter(([label, us]) => label.startsWith('decide') && us > TARGET_US);
console.log('');
console.log(`target ≤ ${TARGET_US} µs per decision: ${missed.length ? `NOT met by ${missed.length} case(s): ${missed.map(([l]) => l.replace('decide: ', '')).join('; ')}` : 'met by every case'}`);
