/**
 * Conditions and lifecycle of the policy end to end (issue 4, S5, S9): schedules read a clock the
 * test controls (time zones, daylight saving, windows across midnight), networks read the client
 * IP resolved through a trusted proxy, MFA step-up answers RFC 9470 challenges, a config with a
 * route no rule covers does not start, and a reload that takes a permission, a rule or a binding
 * away denies the very next request of an already cached token.
 */
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startVulnerableShop, type VulnerableShop } from '../helpers/vulnerable-shop.ts';
import { AUTH_SERVER_YAML, issuers, addUsers, bearer, apiKey, expectProblem, accessLine, securityEvents, type Issuers } from '../helpers/authz.ts';
import { ConfigError } from '../../src/config/load.ts';
import { now } from '../../src/stages/authn/testing.ts';

const SCOPE = 'payroll:read batch:run office:read danger:delete secure:read reports:read exports:read';

let shop: VulnerableShop;
let id: Issuers;
let t: TestGateway;
let events: ReturnType<typeof securityEvents>;
/** The policy clock: real time unless a test fixes it. */
let fixed: number | undefined;

interface Knobs {
  readonly customerReports?: boolean;
  readonly reportsRule?: boolean;
  readonly carolBinding?: boolean;
}

const config = (k: Knobs = {}) => `
trustedProxies: [127.0.0.1/32]
forwardedHeader: x-forwarded-for
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
${AUTH_SERVER_YAML}
authentication:
  accountCacheSeconds: 0
  apiKeys: { enabled: true, cacheSeconds: 0 }
  builtin:
    bindings: [${k.carolBinding === false ? '' : '{ subject: "user:carol", roles: [reporter] }'}]
upstreams:
  - { id: shop, targets: [{ url: ${shop.url} }], retries: { attempts: 0 } }
routes:
  - { id: payroll, path: /api/payroll, methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: batch, path: /api/batch, methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: office, path: /api/office, methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: danger, path: /api/danger, methods: [DELETE], upstream: shop, stripPrefix: /api }
  - { id: secure, path: /api/secure, methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: reports, path: /api/reports, methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: exports, path: /api/exports, methods: [GET], upstream: shop, stripPrefix: /api }
authorization:
  timeZone: Asia/Tokyo
  permissions:
    payroll:read: {}
    batch:run: {}
    office:read: {}
    danger:delete: {}
    secure:read: {}
    reports:read: {}
    reports:admin: {}
    exports:read: {}
  roles:
    customer: { permissions: [payroll:read, batch:run, office:read, danger:delete, secure:read${k.customerReports === false ? '' : ', reports:read'}] }
    auditor: { permissions: [reports:admin] }
    reporter: { permissions: [exports:read] }
  rules:
    # Berlin office hours, on weekdays (daylight saving applies).
    - id: payroll-office-hours
      route: payroll
      permissions: [payroll:read]
      schedule: [{ days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00", timeZone: Europe/Berlin }]
    # Friday night, in the section's time zone (Tokyo): the morning part belongs to Saturday.
    - id: batch-friday-night
      route: batch
      permissions: [batch:run]
      schedule: [{ days: [fri], from: "22:00", to: "06:00" }]
    - id: office-network
      route: office
      permissions: [office:read]
      networks: [10.1.0.0/16, "2001:db8::/32"]
    - id: danger-step-up
      route: danger
      permissions: [danger:delete]
      mfa: { maxAgeSeconds: 300 }
    - id: secure-second-factor
      route: secure
      permissions: [secure:read]
      mfa: true
${k.reportsRule === false ? '' : '    - { id: reports-customers, route: reports, permissions: [reports:read] }'}
    - { id: reports-auditors, route: reports, permissions: [reports:admin] }
    - { id: exports-reporters, route: exports, permissions: [exports:read] }
`;

before(async () => {
  shop = await startVulnerableShop();
  id = issuers(SCOPE);
  events = securityEvents();
  t = await startTestGateway(config(), { authn: { builtin: id.builtin, apiKeys: id.keys }, clock: () => fixed ?? Date.now() });
  await addUsers(t.gw.store, { alice: ['customer'], carol: [] });
});
afterEach(() => {
  fixed = undefined;
});
after(async () => {
  events?.stop();
  await t?.close();
  await shop?.close();
});

const alice = (claims: Record<string, unknown> = {}) => bearer(id.user('alice', claims));
const at = (iso: string) => Date.parse(iso);

async function statusAt(iso: string, path: string): Promise<number> {
  fixed = at(iso);
  const res = await t.fetch(path, alice());
  if (res.status !== 200) expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
  return res.status;
}

test('schedule: a weekday window in Europe/Berlin, with daylight saving, and its edges', async () => {
  const cases: Array<[string, number]> = [
    ['2025-01-06T08:30:00Z', 200], // Monday 09:30 CET
    ['2025-01-06T07:59:00Z', 403], // Monday 08:59 CET
    ['2025-01-06T08:00:00Z', 200], // Monday 09:00 CET: `from` is inside
    ['2025-01-06T15:59:00Z', 200], // Monday 16:59 CET
    ['2025-01-06T16:00:00Z', 403], // Monday 17:00 CET: `to` is outside
    ['2025-01-06T07:30:00Z', 403], // Monday 08:30 CET ...
    ['2025-07-07T07:30:00Z', 200], // ... while the same UTC time in summer is 09:30 CEST
    ['2025-07-07T15:30:00Z', 403], // Monday 17:30 CEST
    ['2025-01-11T10:00:00Z', 403], // Saturday 11:00
    ['2025-01-05T23:30:00Z', 403], // Monday 00:30 CET (Sunday in UTC)
    ['2025-01-10T15:30:00Z', 200], // Friday 16:30 CET
  ];
  for (const [iso, expected] of cases) assert.equal(await statusAt(iso, '/api/payroll'), expected, iso);
  fixed = at('2025-01-11T10:00:00Z');
  const res = await t.fetch('/api/payroll', alice());
  expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
  assert.equal((await accessLine(t, res)).ruleId, 'payroll-office-hours');
  const ev = (await events.of(res, t)).find((e) => e['event.action'] === 'authz.denied');
  assert.match(String(ev?.['event.reason']), /outside mon,tue,wed,thu,fri 09:00–17:00 Europe\/Berlin/);
});

test('schedule: a window across midnight in the section\'s time zone (Asia/Tokyo)', async () => {
  const cases: Array<[string, number]> = [
    ['2025-01-10T13:30:00Z', 200], // Friday 22:30 JST
    ['2025-01-10T12:59:00Z', 403], // Friday 21:59 JST
    ['2025-01-10T20:59:00Z', 200], // Saturday 05:59 JST: the morning after Friday
    ['2025-01-10T21:00:00Z', 403], // Saturday 06:00 JST
    ['2025-01-11T13:30:00Z', 403], // Saturday 22:30 JST: Saturday is not listed
    ['2025-01-09T20:00:00Z', 403], // Friday 05:00 JST: the morning after Thursday
  ];
  for (const [iso, expected] of cases) assert.equal(await statusAt(iso, '/api/batch'), expected, iso);
});

test('networks: the client IP is the rightmost X-Forwarded-For hop that is not a trusted proxy (S5)', async () => {
  const cases: Array<[Record<string, string>, number]> = [
    [{ 'x-forwarded-for': '10.1.2.3' }, 200],
    [{ 'x-forwarded-for': '::ffff:10.1.2.3' }, 200],
    [{ 'x-forwarded-for': '2001:db8::7' }, 200],
    [{ 'x-forwarded-for': '10.1.2.3, 127.0.0.1' }, 200], // the trusted proxy's own hop is skipped
    [{ 'x-forwarded-for': '203.0.113.9' }, 403],
    [{ 'x-forwarded-for': '10.1.2.3, 203.0.113.9' }, 403], // a client writing the office address first
    [{ 'x-forwarded-for': '10.2.0.1' }, 403],
    [{ 'x-forwarded-for': 'not-an-ip' }, 403], // unidentifiable: denied
    [{ 'x-forwarded-for': '10.1.2.3, garbage' }, 403],
    [{ forwarded: 'for=10.1.2.3' }, 403], // only the configured header counts: the peer 127.0.0.1
    [{}, 403],
  ];
  for (const [headers, expected] of cases) {
    const res = await t.fetch('/api/office', { headers: { ...alice().headers, ...headers } });
    if (expected === 200) assert.equal(res.status, 200, `${JSON.stringify(headers)}: ${res.text}`);
    else {
      expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
      assert.equal((await accessLine(t, res)).ruleId, 'office-network', JSON.stringify(headers));
    }
  }
  const res = await t.fetch('/api/office', { headers: { ...alice().headers, 'x-forwarded-for': '10.1.2.3, 203.0.113.9' } });
  const ev = (await events.of(res, t)).find((e) => e['event.action'] === 'authz.denied');
  assert.equal(ev?.['source.ip'], '203.0.113.9');
  assert.match(String(ev?.['event.reason']), /203\.0\.113\.9 is outside 10\.1\.0\.0\/16/);
});

test('step-up: no second factor → 401 insufficient_user_authentication with acr_values (RFC 9470)', async () => {
  const writes = shop.writes().length;
  for (const amr of [['pwd'], ['pwd', 'rc'], []]) {
    const res = await t.fetch('/api/danger', { ...alice({ amr, acr: undefined }), method: 'DELETE' });
    expectProblem(res, 401, 'RAMPART_AUTHN_STEP_UP_REQUIRED');
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="rampart", error="insufficient_user_authentication", error_description="A stronger authentication is required", acr_values="urn:rampart:acr:mfa", max_age=300', JSON.stringify(amr));
    assert.equal((await accessLine(t, res)).ruleId, 'danger-step-up');
  }
  // mfa: true asks for the factor only.
  const secure = await t.fetch('/api/secure', alice({ amr: ['pwd'] }));
  expectProblem(secure, 401, 'RAMPART_AUTHN_STEP_UP_REQUIRED');
  assert.equal(secure.headers['www-authenticate'], 'Bearer realm="rampart", error="insufficient_user_authentication", error_description="A stronger authentication is required", acr_values="urn:rampart:acr:mfa"');
  assert.equal((await t.fetch('/api/secure', alice({ auth_time: now() - 86_400 }))).status, 200, 'no maximum age');
  assert.equal(shop.writes().length, writes);
});

test('step-up: a stale or missing auth_time → 401 with max_age; fresh → 200', async () => {
  const writes = shop.writes().length;
  for (const claims of [{ auth_time: now() - 1000 }, { auth_time: undefined, client_id: 'web' }]) {
    const res = await t.fetch('/api/danger', { ...alice(claims), method: 'DELETE' });
    expectProblem(res, 401, 'RAMPART_AUTHN_STEP_UP_REQUIRED');
    assert.equal(res.headers['www-authenticate'], 'Bearer realm="rampart", error="insufficient_user_authentication", error_description="A more recent authentication is required", max_age=300');
  }
  assert.equal(shop.writes().length, writes, 'nothing was deleted');
  const fresh = await t.fetch('/api/danger', { ...alice(), method: 'DELETE' });
  assert.equal(fresh.status, 200, fresh.text);
  assert.equal(fresh.json().done, 'DELETE');
  // On the policy clock: 300 s after the login is still fresh, 301 s is not.
  const authTime = now() - 5;
  const token = alice({ auth_time: authTime });
  fixed = (authTime + 300) * 1000;
  assert.equal((await t.fetch('/api/danger', { ...token, method: 'DELETE' })).status, 200);
  fixed = (authTime + 301) * 1000;
  expectProblem(await t.fetch('/api/danger', { ...token, method: 'DELETE' }), 401, 'RAMPART_AUTHN_STEP_UP_REQUIRED');
});

test('step-up: an API key cannot present a second factor → 403 RAMPART_AUTHZ_DENIED, no challenge', async () => {
  const res = await t.fetch('/api/danger', { ...apiKey(id.keys.add('ops', ['customer'])), method: 'DELETE' });
  expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
  assert.equal(res.headers['www-authenticate'], undefined);
  assert.equal((await accessLine(t, res)).ruleId, 'danger-step-up');
});

test('default deny at load: Gateway.start refuses a route without a rule, naming file, line and route', async () => {
  const base = config().replace(
    '  - { id: exports, path: /api/exports, methods: [GET], upstream: shop, stripPrefix: /api }',
    '  - { id: exports, path: /api/exports, methods: [GET], upstream: shop, stripPrefix: /api }\n  - { id: forgotten, path: /api/forgotten, methods: [GET], upstream: shop, stripPrefix: /api }\n  - { id: half, path: /api/half, methods: [GET, DELETE], upstream: shop, stripPrefix: /api }',
  ).replace('    - { id: exports-reporters', '    - { id: half-read, route: half, methods: [GET], authenticated: true }\n    - { id: exports-reporters');
  let err: unknown;
  try {
    const started = await startTestGateway(base, { authn: { builtin: id.builtin, apiKeys: id.keys } });
    await started.close();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError, `the gateway must not start: ${String(err)}`);
  const line = base.split('\n').findIndex((l) => l.includes('id: forgotten')) + 1;
  assert.match(err.message, new RegExp(`rampart\\.yaml:${line}:\\d+: routes\\[7\\]: route "forgotten" has no authorization rule \\(default deny\\)`));
  assert.match(err.message, /rampart\.yaml:\d+:\d+: routes\[8\]\.methods: route "half" has no authorization rule for DELETE/);
});

/** Requests until the access log shows the token was served from the cache (bounded). */
async function cachedOk(path: string, headers: { headers: Record<string, string> }): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const res = await t.fetch(path, headers);
    assert.equal(res.status, 200, res.text);
    if ((await accessLine(t, res)).authn?.cached === true) return;
  }
  assert.fail('the token was never served from the cache');
}

async function reload(k: Knobs): Promise<void> {
  await t.rewrite(config(k));
  const r = await t.gw.reload();
  assert.ok(r.ok, JSON.stringify(r.problems));
}

test('S9 reload: a permission taken from a role denies the very next request of a cached token', async () => {
  const token = alice();
  await cachedOk('/api/reports', token);
  await reload({ customerReports: false });
  const res = await t.fetch('/api/reports', token);
  expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
  const line = await accessLine(t, res);
  assert.equal(line.authn?.cached, true, 'the same cached token');
  await reload({});
  assert.equal((await t.fetch('/api/reports', token)).status, 200, 'and back');
});

test('S9 reload: a rule removed denies the very next request of a cached token', async () => {
  const token = alice();
  await cachedOk('/api/reports', token);
  await reload({ reportsRule: false });
  const res = await t.fetch('/api/reports', token);
  expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
  assert.equal((await accessLine(t, res)).ruleId, 'reports-auditors', 'the remaining rule denies');
  await reload({});
  assert.equal((await t.fetch('/api/reports', token)).status, 200);
});

test('S9 reload: a binding removed denies the very next request of the same token', async () => {
  const token = bearer(id.user('carol'));
  await cachedOk('/api/exports', token);
  await reload({ carolBinding: false });
  const res = await t.fetch('/api/exports', token);
  expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
  assert.equal((await accessLine(t, res)).principal, 'user:carol');
  await reload({});
  assert.equal((await t.fetch('/api/exports', token)).status, 200);
});

test('S9 reload: a reload that would leave a route without a rule is refused; the running policy stays', async () => {
  const token = alice();
  const broken = config().replace('    - { id: exports-reporters, route: exports, permissions: [exports:read] }', '');
  await t.rewrite(broken);
  const r = await t.gw.reload();
  assert.equal(r.ok, false);
  assert.ok(r.problems.some((p) => /route "exports" has no authorization rule/.test(p.message)), JSON.stringify(r.problems));
  assert.equal((await t.fetch('/api/reports', token)).status, 200);
  expectProblem(await t.fetch('/api/exports', token), 403, 'RAMPART_AUTHZ_DENIED');
  await t.rewrite(config());
});
