/**
 * `rampart policy explain | test | report` as an operator runs them: the real binary against the
 * demo config and temp configs, a real SQLite store for roles from records, exit codes 0/1/2.
 * What only the binary can show is spawned; the matrix of usage errors and malformed tables runs
 * in-process (the same entry point, loaded once).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSqliteStore } from '../../src/store/sqlite/index.ts';
import { runPolicyCommand } from '../../src/cli/policy/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(root, 'bin', 'rampart.js');
const demo = path.join(root, 'examples', 'demo', 'rampart.yaml');
const demoTable = path.join(root, 'examples', 'demo', 'policy-tests.yaml');
const dir = mkdtempSync(path.join(os.tmpdir(), 'rampart-cli-policy-'));
after(() => rmSync(dir, { recursive: true, force: true }));
/** The demo's store is never the checkout's .rampart: an empty data directory of our own. */
const emptyData = path.join(dir, 'empty-data');
process.env.RAMPART_DATA_DIR = emptyData;

const dataDir = path.join(dir, 'data');
const config = path.join(dir, 'rampart.yaml');
writeFileSync(config, `dataDir: ${dataDir}
listeners:
  - { name: public, port: 8443, protocol: https, tls: { dev: true } }
authServer:
  issuer: https://localhost:8443/auth
authentication:
  apiKeys: { enabled: true, bindings: [{ subject: key:k1, roles: [ops] }] }
  builtin: { bindings: [{ subject: carol, roles: [ops] }] }
upstreams:
  - { id: app, targets: [{ url: "http://127.0.0.1:9999" }] }
authorization:
  timeZone: Europe/Berlin
  permissions:
    reports:read: {}
    reports:write: {}
    spare: {}
  roles:
    reader: { description: Reads reports, permissions: [reports:read] }
    ops: { inherits: [reader], permissions: ["reports:*"] }
    idle: { permissions: [spare] }
  rules:
    - { id: ping, route: ping, public: true }
    - { id: reports-read, route: reports, methods: [GET], permissions: [reports:read] }
    - id: reports-write
      route: reports
      methods: [POST]
      permissions: [reports:write]
      networks: [10.0.0.0/8]
      schedule: [{ days: [mon, tue, wed, thu, fri], from: "08:00", to: "18:00" }]
    - { id: me, route: me, authenticated: true }
routes:
  - { id: ping, path: /ping, methods: [GET], upstream: app }
  - { id: reports, path: /reports, methods: [GET, POST], upstream: app }
  - { id: me, path: /me, methods: [GET], upstream: app }
`);
/** Monday and Saturday, 10:00 in Berlin. */
const MONDAY = '2026-11-30T10:00:00+01:00';
const SATURDAY = '2026-11-28T10:00:00+01:00';

before(async () => {
  mkdirSync(dataDir, { recursive: true });
  const s = createSqliteStore({ file: path.join(dataDir, 'rampart.db') });
  try {
    await s.migrate();
    const user = (id: string, roles: string[], disabled = false) => ({ id, username: id, passwordHash: '$scrypt$not-used', mustChangePassword: false, roles, recoveryCodeHashes: [], disabled, createdAt: 1, updatedAt: 1 });
    await s.users.create(user('dave', ['reader']));
    await s.users.create(user('erin', ['ops'], true));
    await s.users.create(user('carol', []));
    await s.users.create(user('frank', ['auditor']));
    await s.apiKeys.create({ id: 'k2', name: 'reports', secretMac: 'x', pepperKid: 'p', roles: ['ops'], scopes: ['reports:read'], createdAt: 1 });
    await s.apiKeys.create({ id: 'k3', name: 'old', secretMac: 'y', pepperKid: 'p', roles: ['ops'], scopes: [], createdAt: 1, revokedAt: 2 });
  } finally {
    await s.close();
  }
});

function spawn(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, env: { ...process.env, RAMPART_CONFIG: '', RAMPART_DATA_DIR: emptyData, ...env } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function inProcess(args: string[]) {
  let out = '';
  let err = '';
  const code = await runPolicyCommand(args, { out: (t) => void (out += t), err: (t) => void (err += t), stdin: async () => '' });
  return { code, out, err };
}

function table(name: string, yaml: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, yaml);
  return file;
}

test('policy explain: allowed → exit 0, the deciding rule and every check of every rule', () => {
  const r = spawn(['policy', 'explain', '--config', demo, '--as', 'admin', '--roles', 'admin', '--method', 'DELETE', '--path', '/api/users/bob']);
  assert.equal(r.code, 0, r.err + r.out);
  assert.match(r.out, /^route +users-by-id +\/api\/users\/\{id\} +listener public +\{id=bob\}$/m);
  assert.match(r.out, /^decision +ALLOW \(rule users-delete\)$/m);
  assert.match(r.out, /^scopes +not narrowed \(assumed all: users:admin\)$/m);
  assert.match(r.out, /^users-delete +allows +authenticated +ok +user:admin$/m);
  assert.match(r.out, /^ +mfa +ok +amr \[pwd, otp\], authenticated 0 s ago$/m);
});

test('policy explain: denied → exit 1 with the status and code the gateway answers, and the failing check', () => {
  const r = spawn(['policy', 'explain', '--config', demo, '--as', 'user:alice', '--roles', 'customer', '--method', 'DELETE', '--path', '/api/users/bob']);
  assert.equal(r.code, 1, r.err + r.out);
  assert.match(r.out, /^decision +DENY 403 RAMPART_AUTHZ_DENIED \(rule users-delete\)$/m);
  assert.match(r.out, /^ +permissions +FAIL +roles \[customer\] do not grant users:delete$/m);

  // Step-up: 401 with the RFC 9470 challenge; --json for machines.
  const j = spawn(['policy', 'explain', '--config', demo, '--as', 'admin', '--roles', 'admin', '--auth-age', '3600', '--method', 'DELETE', '--path', '/api/users/bob', '--json']);
  assert.equal(j.code, 1, j.err);
  const doc = JSON.parse(j.out);
  assert.equal(doc.decision.allowed, false);
  assert.equal(doc.decision.status, 401);
  assert.equal(doc.decision.code, 'RAMPART_AUTHN_STEP_UP_REQUIRED');
  assert.equal(doc.decision.rule, 'users-delete');
  assert.match(doc.decision.headers['www-authenticate'], /error="insufficient_user_authentication".*max_age=900/);
  assert.deepEqual(doc.rules.map((x: { id: string }) => x.id), ['users-delete']);
  assert.deepEqual(doc.rules[0].checks.map((c: { check: string; ok: boolean }) => `${c.check}:${c.ok}`), ['authenticated:true', 'permissions:true', 'scope:true', 'mfa:false']);
  assert.equal(doc.route.id, 'users-by-id');
});

test('policy explain: paths are normalised and matched as the gateway does (404, 400, 405)', async () => {
  const ask = (p: string, method = 'GET') => inProcess(['policy', 'explain', '--config', demo, '--as', 'alice', '--roles', 'customer', '--method', method, '--path', p]);
  const upper = await ask('/API/orders');
  assert.equal(upper.code, 1);
  assert.match(upper.out, /^route +404 no route for \/API\/orders$/m);
  assert.match(upper.out, /DENY 404 RAMPART_ROUTE_NOT_FOUND/);
  assert.match((await ask('/api/users/me/')).out, /404 no route for \/api\/users\/me\//);
  const dots = await ask('//api/orders/../users/./alice');
  assert.equal(dots.code, 0, dots.out);
  assert.match(dots.out, /normalised \/api\/users\/alice/);
  assert.match(dots.out, /ALLOW \(rule profile-read-own\)/);
  const slash = await ask('/api/users/alice%2F..%2Fbob');
  assert.equal(slash.code, 1);
  assert.match(slash.out, /refused before routing \(encoded slash \(%2F\)\)/);
  assert.match(slash.out, /DENY 400 RAMPART_HYGIENE_PATH_INVALID/);
  const method = await ask('/api/orders', 'DELETE');
  assert.match(method.out, /405 no route for DELETE \(allowed: GET, HEAD, POST\)/);
  // The response obligation: checked when the upstream's answer is given.
  const mine = await inProcess(['policy', 'explain', '--config', demo, '--as', 'alice', '--roles', 'customer', '--method', 'GET', '--path', '/api/orders/o-2001']);
  assert.equal(mine.code, 0);
  assert.match(mine.out, /ALLOW \(response must belong to the caller; rule orders-own\)/);
  assert.match(mine.out, /^ +response +due +ownerId must be the caller's subject$/m);
  const bobs = await inProcess(['policy', 'explain', '--config', demo, '--as', 'alice', '--roles', 'customer', '--method', 'GET', '--path', '/api/orders/o-2001', '--response', '{"id":"o-2001","ownerId":"bob"}']);
  assert.equal(bobs.code, 1);
  assert.match(bobs.out, /DENY 404 RAMPART_UPSTREAM_REJECTED \(rule orders-own\)/);
  assert.match(bobs.out, /^ +response +FAIL +ownerId must be the caller's subject$/m);
});

test('policy explain: roles from config bindings plus the store record; a disabled user or revoked key is refused', async () => {
  const ask = (...args: string[]) => inProcess(['policy', 'explain', '--config', config, '--method', 'GET', '--path', '/reports', ...args]);
  delete process.env.RAMPART_DATA_DIR;
  try {
    const dave = await ask('--as', 'dave');
    assert.equal(dave.code, 0, dave.out);
    assert.match(dave.out, /^roles +reader +\(config bindings \+ store record\)$/m);
    assert.match(dave.out, /^store +read from .*rampart\.db$/m);
    const carol = await ask('--as', 'carol');
    assert.match(carol.out, /^roles +ops +\(config bindings \+ store record\)$/m, 'binding ops plus an empty record');
    const frank = await ask('--as', 'frank');
    assert.equal(frank.code, 1, 'auditor is not a role of the policy');
    assert.match(frank.out, /roles \[auditor\] do not grant reports:read/);
    const erin = await ask('--as', 'erin');
    assert.equal(erin.code, 1);
    assert.match(erin.out, /DENY 401 RAMPART_AUTHN_TOKEN_REVOKED/);
    assert.match(erin.out, /user erin is disabled/);
    const nobody = await ask('--as', 'nobody');
    assert.match(nobody.out, /DENY 401 RAMPART_AUTHN_TOKEN_REVOKED/);
    // A key's record gives its roles and scopes: ops, but only reports:read.
    const k2 = await inProcess(['policy', 'explain', '--config', config, '--as', 'key:k2', '--method', 'POST', '--path', '/reports', '--ip', '10.0.0.1', '--at', MONDAY]);
    assert.equal(k2.code, 1, k2.out);
    assert.match(k2.out, /^caller +key:k2 +issuer urn:rampart:api-keys$/m);
    assert.match(k2.out, /DENY 403 RAMPART_AUTHN_INSUFFICIENT_SCOPE \(rule reports-write\)/);
    assert.match((await ask('--as', 'key:k3')).out, /DENY 401 RAMPART_AUTHN_API_KEY_INVALID/);
    // --roles: the store is not consulted.
    assert.match((await ask('--as', 'erin', '--roles', 'reader')).out, /^store +not consulted \(roles given\)$/m);
  } finally {
    process.env.RAMPART_DATA_DIR = emptyData;
  }
  // No store: said so, bindings only — and nothing is created.
  const r = await ask('--as', 'carol');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /^store +unreachable \(no database at .*empty-data.*\): config bindings only$/m);
  assert.match(r.out, /^roles +ops +\(config bindings\)$/m);
  assert.equal(existsSync(path.join(emptyData, 'rampart.db')), false);
});

test('policy explain: networks and schedules, from --ip and --at', async () => {
  const ask = (ip: string, at: string) => inProcess(['policy', 'explain', '--config', config, '--as', 'carol', '--method', 'POST', '--path', '/reports', '--ip', ip, '--at', at]);
  const ok = await ask('10.1.2.3', MONDAY);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /^ +schedule +ok +within mon,tue,wed,thu,fri 08:00–18:00 Europe\/Berlin$/m);
  const weekend = await ask('10.1.2.3', SATURDAY);
  assert.equal(weekend.code, 1);
  assert.match(weekend.out, /^ +schedule +FAIL +outside mon,tue,wed,thu,fri/m);
  const outside = await ask('192.168.1.1', MONDAY);
  assert.equal(outside.code, 1);
  assert.match(outside.out, /^ +network +FAIL +192\.168\.1\.1 is outside 10\.0\.0\.0\/8$/m);
});

test('policy test: the demo table passes (exit 0)', () => {
  const r = spawn(['policy', 'test', '--config', demo, demoTable]);
  assert.equal(r.code, 0, r.err + r.out);
  assert.doesNotMatch(r.out, /^FAIL/m);
  const summary = /^(\d+) rows: (\d+) passed, 0 failed$/m.exec(r.out);
  assert.ok(summary && summary[1] === summary[2] && Number(summary[1]) >= 50, r.out);
  assert.match(r.out, /^PASS +.*policy-tests\.yaml:\d+ +alice reads bob's order: user:alice GET \/api\/orders\/o-2001 → deny 404 RAMPART_UPSTREAM_REJECTED \(rule orders-own\)$/m);
});

test('policy test: a wrong expectation fails (exit 1) naming the row and the difference', () => {
  const file = table('wrong.yaml', `- { as: alice, roles: [customer], method: GET, path: /api/users/alice, expect: allow }
- { as: alice, roles: [customer], method: DELETE, path: /api/users/bob, expect: allow }
- as: alice
  roles: [customer]
  method: GET
  path: /api/users/bob
  expect: deny
  status: 403
  rule: profile-any
- { as: alice, roles: [customer], method: GET, path: /api/orders, expect: allow }
`);
  const r = spawn(['policy', 'test', '--config', demo, file]);
  assert.equal(r.code, 1, r.err + r.out);
  assert.match(r.out, /^PASS +.*wrong\.yaml:1 +user:alice GET \/api\/users\/alice → allow \(rule profile-read-own\)$/m);
  assert.match(r.out, /^FAIL +.*wrong\.yaml:2 +user:alice DELETE \/api\/users\/bob: expected allow, got deny 403 RAMPART_AUTHZ_DENIED \(rule users-delete\)$/m);
  assert.match(r.out, /^FAIL +.*wrong\.yaml:3 +user:alice GET \/api\/users\/bob: expected status 403, got 404; expected rule profile-any, got rule profile-read-own$/m);
  assert.match(r.out, /^PASS +.*wrong\.yaml:10 +user:alice GET \/api\/orders → allow \(response must belong to the caller; rule orders-own\)$/m);
  assert.match(r.out, /^4 rows: 2 passed, 2 failed$/m);
});

test('policy test: a malformed table → exit 2, every problem with file:line and key', async () => {
  const file = table('bad.yaml', `- { as: alice, method: GET, path: /api/users/me, expect: allow }
- as: alice
  method: GET
  path: /api/users/me
  expct: allow
- { as: "user:", method: FETCH, path: api, expect: maybe }
- { as: alice, method: GET, path: /api/users/me, expect: allow, status: 200, rule: no-such-rule, at: yesterday, ip: 999.1.1.1 }
`);
  const r = spawn(['policy', 'test', '--config', demo, file]);
  assert.equal(r.code, 2, r.out);
  assert.equal(r.out, '');
  const lines = r.err.trim().split('\n');
  const has = (re: RegExp) => assert.ok(lines.some((l) => re.test(l)), `${re} in\n${r.err}`);
  has(/bad\.yaml:5:3: \[1\]\.expct: unknown key$/);
  has(/bad\.yaml:2:\d+: \[1\]: missing required key "expect"$/);
  has(/bad\.yaml:6:\d+: \[2\]\.method: must be one of "GET"/);
  has(/bad\.yaml:6:\d+: \[2\]\.path: must be a path starting with \/$/);
  has(/bad\.yaml:6:\d+: \[2\]\.expect: must be one of "allow", "deny"$/);

  // Row values are checked once the shape is right.
  const values = table('values.yaml', `- { as: "user:", method: GET, path: /api/users/me, expect: allow }
- { as: alice, method: GET, path: /api/users/me, expect: allow, status: 200, rule: no-such-rule, at: yesterday, ip: 999.1.1.1 }
- { as: bob, issuer: corp, method: GET, path: /api/users/me, expect: deny }
`);
  const v = await inProcess(['policy', 'test', '--config', demo, values]);
  assert.equal(v.code, 2, v.out);
  for (const re of [
    /values\.yaml:1:\d+: \[0\]\.as: "user:" is not a subject/,
    /values\.yaml:2:\d+: \[1\]\.status: only a denial has a status/,
    /values\.yaml:2:\d+: \[1\]\.rule: no rule "no-such-rule" in authorization\.rules/,
    /values\.yaml:2:\d+: \[1\]\.at: "yesterday" is not a date-time with an offset/,
    /values\.yaml:2:\d+: \[1\]\.ip: "999\.1\.1\.1" is not an IP address/,
    /values\.yaml:3:\d+: \[2\]\.issuer: unknown issuer "corp"/,
  ]) assert.match(v.err, re);

  const yaml = await inProcess(['policy', 'test', '--config', demo, table('syntax.yaml', '- { as: alice\n- method: GET\n')]);
  assert.equal(yaml.code, 2);
  assert.match(yaml.err, /syntax\.yaml:\d+:\d+: /);
  const notList = await inProcess(['policy', 'test', '--config', demo, table('map.yaml', 'as: alice\n')]);
  assert.equal(notList.code, 2);
  assert.match(notList.err, /map\.yaml:1:1: the table must be a YAML list of rows/);
  const missing = await inProcess(['policy', 'test', '--config', demo, path.join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 2);
  assert.match(missing.err, /nope\.yaml: file not found/);
});

test('policy report: roles (inheritance resolved) → routes, methods, rules and conditions; public routes; bindings; findings', async () => {
  const r = spawn(['policy', 'report', '--config', demo]);
  assert.equal(r.code, 0, r.err);
  const admin = r.out.slice(r.out.indexOf('Role admin'), r.out.indexOf('Any authenticated caller'));
  assert.match(admin, /^Role admin — Shop staff \(admin\) \(inherits customer\)$/m);
  assert.match(admin, /^ +users-by-id +\/api\/users\/\{id\} +DELETE +users-delete +mfa \(otp, within 900 s\)$/m);
  assert.match(admin, /^ +orders-by-id +\/api\/orders\/\{id\} +GET +orders-any$/m);
  const customer = r.out.slice(r.out.indexOf('Role customer'), r.out.indexOf('Role admin'));
  assert.doesNotMatch(customer, /users-delete|orders-any|profile-any/);
  assert.match(customer, /^ +users-by-id +\/api\/users\/\{id\} +GET +profile-read-own +own: path id = caller's subject \(user of builtin; else 404\)$/m);
  assert.match(r.out, /^Public \(anyone, no credentials\)\n.*\n +health +\/api\/health +GET +health$/m);

  // A temp config with bindings, a store and lint findings, as JSON.
  delete process.env.RAMPART_DATA_DIR;
  let j;
  try {
    j = await inProcess(['policy', 'report', '--config', config, '--json']);
  } finally {
    process.env.RAMPART_DATA_DIR = emptyData;
  }
  assert.equal(j.code, 0, j.err);
  const doc = JSON.parse(j.out);
  const ops = doc.roles.find((x: { role: string }) => x.role === 'ops');
  assert.deepEqual(ops.inherits, ['reader']);
  assert.deepEqual(ops.permissions, ['reports:read', 'reports:write']);
  assert.deepEqual(ops.bindings, ['user:carol', 'key:k1']);
  assert.deepEqual(ops.store, { users: 0, disabledUsers: 1, clients: 0, keys: 1 }, 'erin (disabled) and k2; k3 is revoked');
  const write = ops.access.find((a: { rule: string }) => a.rule === 'reports-write');
  assert.deepEqual(write, { route: 'reports', path: '/reports', methods: ['POST'], rule: 'reports-write', conditions: ['from 10.0.0.0/8', 'schedule mon,tue,wed,thu,fri 08:00–18:00 Europe/Berlin'] });
  assert.deepEqual(doc.roles.find((x: { role: string }) => x.role === 'reader').store, { users: 1, disabledUsers: 0, clients: 0, keys: 0 });
  assert.deepEqual(doc.authenticated.map((a: { rule: string }) => a.rule), ['me']);
  assert.deepEqual(doc.public.map((a: { rule: string }) => a.rule), ['ping']);
  assert.deepEqual(doc.undefinedStoreRoles, ['auditor']);
  assert.ok(doc.findings.some((f: string) => /rampart\.yaml:\d+:\d+: warning: authorization\.roles\.ops\.permissions\[0\]: wildcard "reports:\*"/.test(f)), doc.findings.join('\n'));
  assert.ok(doc.findings.some((f: string) => /authorization\.roles\.idle: role "idle" grants no permission any rule requires/.test(f)));
  assert.ok(doc.findings.some((f: string) => /authorization\.permissions\.spare: no rule requires "spare"/.test(f)));
});

test('policy: usage errors → exit 2', async () => {
  const usage = spawn(['policy', 'explain', '--config', demo, '--as', 'alice', '--path', '/api/orders']);
  assert.equal(usage.code, 2);
  assert.match(usage.err, /policy explain needs --method/);
  for (const [args, re] of [
    [['policy'], /policy needs a command/],
    [['policy', 'frobnicate'], /unknown policy command "frobnicate"/],
    [['policy', 'explain', '--as', 'alice', '--method', 'GET'], /needs --path/],
    [['policy', 'explain', '--as', 'user:', '--method', 'GET', '--path', '/'], /--as: "user:" is not a subject/],
    [['policy', 'explain', '--as', 'alice', '--method', 'GET', '--path', '/', '--at', 'tomorrow'], /--at: "tomorrow" is not a date-time/],
    [['policy', 'explain', '--as', 'alice', '--method', 'GET', '--path', '/', '--ip', 'here'], /--ip: "here" is not an IP address/],
    [['policy', 'explain', '--as', 'alice', '--method', 'GET', '--path', '/', '--body', '{"a":1,"a":2}'], /--body: not JSON the gateway would accept/],
    [['policy', 'explain', '--as', 'alice', '--method', 'GET', '--path', '/?a=1', '--query', 'b=2'], /either in --path or in --query/],
    [['policy', 'explain', '--config', demo, '--as', 'alice', '--issuer', 'corp', '--method', 'GET', '--path', '/api/orders'], /unknown issuer "corp"/],
    [['policy', 'test'], /policy test takes one table file/],
    [['policy', 'report', '--as', 'alice'], /policy report does not take --as/],
    [['policy', 'report', '--frob'], /Unknown option '--frob'/],
    [['policy', 'report', '--config', path.join(dir, 'missing.yaml')], /missing\.yaml: file not found/],
  ] as const) {
    const r = await inProcess(['--config', demo, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.out}`);
    assert.match(r.err, re, args.join(' '));
  }
  const help = await inProcess(['policy', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /rampart policy explain --as SUBJECT --method METHOD --path PATH/);
});
