import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../config/load.ts';
import { ANONYMOUS, type Principal } from '../../core/principal.ts';
import { STAGES } from '../index.ts';
import { compilePolicy, type Policy } from './policy.ts';
import { decide, localTime, withinWindow, type Facts, type RuleTrace } from './evaluate.ts';
import { toError } from './index.ts';

const ISSUER = 'https://localhost:8443/auth';
const yaml = `listeners:
  - { name: public, port: 8443, protocol: https, tls: { dev: true } }
authServer:
  issuer: ${ISSUER}
  resources: [{ indicator: "https://localhost:8443/api", scopes: [orders:read, orders:write, users:admin] }]
  defaultResource: https://localhost:8443/api
authentication:
  apiKeys: { enabled: true }
  issuers:
    - { id: corp, issuer: "https://idp.example.com", audiences: [api], algorithms: [RS256] }
upstreams:
  - { id: up, targets: [{ url: "http://127.0.0.1:9000" }] }
routes:
  - { id: health, path: /health, methods: [GET], upstream: up }
  - { id: orders, path: /orders, methods: [GET, POST], upstream: up }
  - { id: order, path: "/orders/{id}", methods: [GET, PUT, DELETE], upstream: up }
  - { id: user, path: "/users/{id}", methods: [GET, DELETE], upstream: up }
  - { id: search, path: /search, methods: [GET, POST], upstream: up }
  - { id: batch, path: /batch, methods: [POST], upstream: up }
authorization:
  timeZone: Europe/Paris
  permissions:
    orders:read: {}
    orders:write: {}
    orders:manage: { scopes: [orders:read, orders:write] }
    users:delete: { scopes: [users:admin] }
    reports:run: {}
  roles:
    customer: { permissions: [orders:read, orders:write] }
    admin: { inherits: [customer], permissions: [orders:manage, users:delete] }
    analyst: { permissions: [reports:run] }
  rules:
    - { id: health, route: health, public: true }
    - { id: orders-own, routes: [orders, order], methods: [GET], permissions: [orders:read], ownership: { response: { field: ownerId } } }
    - { id: orders-any, routes: [orders, order], methods: [GET], permissions: [orders:manage] }
    - { id: orders-create, route: orders, methods: [POST], permissions: [orders:write] }
    - { id: order-change, route: order, methods: [PUT, DELETE], permissions: [orders:write] }
    - { id: user-self, route: user, methods: [GET], authenticated: true, ownership: { request: [{ path: id }], onMismatch: 403 } }
    - { id: user-delete, route: user, methods: [DELETE], permissions: [users:delete], mfa: { maxAgeSeconds: 300 } }
    - id: search-office
      route: search
      permissions: [reports:run]
      networks: [10.0.0.0/8, "2001:db8::/32"]
      schedule: [{ days: [mon, tue, wed, thu, fri], from: "09:00", to: "18:00" }, { days: [sat], from: "22:00", to: "02:00" }]
      ownership: { request: [{ query: owner }] }
    - { id: batch-own, route: batch, permissions: [orders:write], ownership: { request: [{ body: /customer/id }] } }
`;

const policy: Policy = compilePolicy(parseConfig(yaml, 'rampart.yaml', '/tmp', STAGES).config).policy;
// Monday 2026-11-30 10:00 in Paris (09:00 UTC).
const MONDAY_10 = Date.parse('2026-11-30T09:00:00Z');

function user(subject: string, roles: string[], over: Partial<Principal> = {}): Principal {
  return {
    kind: 'user', subject, issuer: ISSUER, roles, scopes: ['orders:read', 'orders:write', 'users:admin'],
    amr: ['pwd', 'otp'], authTime: Math.floor(MONDAY_10 / 1000) - 60, claims: {}, ...over,
  };
}

function facts(principal: Principal, method: string, over: Partial<Facts> = {}): Facts {
  return { principal, method, clientIp: '10.1.2.3', params: {}, query: '', now: MONDAY_10, ...over };
}

function verdict(routeId: string, f: Facts) {
  return decide(policy, policy.routes.get(routeId), f);
}

const alice = user('alice', ['customer']);
const admin = user('admin', ['admin']);

test('a public rule allows anonymous callers; every other rule wants a principal (401, no error code)', () => {
  const ok = verdict('health', facts(ANONYMOUS, 'GET'));
  assert.ok(ok.allowed && ok.rule?.id === 'health');
  const v = verdict('orders', facts(ANONYMOUS, 'GET'));
  assert.ok(!v.allowed);
  const e = toError(policy, v.failure, { principal: ANONYMOUS });
  assert.equal(e.status, 401);
  assert.equal(e.code, 'RAMPART_AUTHN_REQUIRED');
  assert.match(e.headers['www-authenticate'] ?? '', /^Bearer realm="rampart"(?!.*error=)/);
});

test('function level: a customer may not use an admin method (403 with the rule named)', () => {
  const v = verdict('user', facts(alice, 'DELETE', { params: { id: 'bob' } }));
  assert.ok(!v.allowed);
  assert.equal(v.failure.rule?.id, 'user-delete');
  assert.equal(v.failure.check, 'permissions');
  const e = toError(policy, v.failure, { principal: alice });
  assert.equal(e.status, 403);
  assert.equal(e.code, 'RAMPART_AUTHZ_DENIED');
  assert.equal(e.ruleId, 'user-delete');
});

test('a method no rule covers is denied, never allowed', () => {
  const v = verdict('health', facts(admin, 'DELETE'));
  assert.ok(!v.allowed);
  assert.equal(v.failure.check, 'no-rule');
});

test('a rule without obligations wins over one that must check the answer (admins read every order)', () => {
  const a = verdict('order', facts(alice, 'GET'));
  assert.ok(a.allowed && a.rule?.id === 'orders-own' && a.rule.ownership?.response);
  const b = verdict('order', facts(admin, 'GET'));
  assert.ok(b.allowed && b.rule?.id === 'orders-any');
});

test('scopes narrow roles: a token never does more than its user may, nor more than its scopes', () => {
  const readOnly = user('admin', ['admin'], { scopes: ['orders:read'] });
  const v = verdict('order', facts(readOnly, 'DELETE'));
  assert.ok(!v.allowed);
  assert.equal(v.failure.check, 'scope');
  const e = toError(policy, v.failure, { principal: readOnly });
  assert.equal(e.status, 403);
  assert.equal(e.code, 'RAMPART_AUTHN_INSUFFICIENT_SCOPE');
  assert.match(e.headers['www-authenticate'] ?? '', /error="insufficient_scope".*scope="orders:write"/);
  // Scopes alone grant nothing: a customer token with users:admin still cannot delete users.
  const wide = verdict('user', facts(user('alice', ['customer'], { scopes: ['users:admin'] }), 'DELETE'));
  assert.ok(!wide.allowed && wide.failure.check === 'permissions');
  // An API key without scopes is bounded by its roles only; with scopes, narrowed like a token.
  const key: Principal = { kind: 'key', subject: 'k1', issuer: 'urn:rampart:api-keys', keyId: 'k1', roles: ['customer'], scopes: [], amr: [], claims: {} };
  assert.ok(verdict('orders', facts(key, 'POST')).allowed);
  assert.ok(!verdict('orders', facts({ ...key, scopes: ['orders:read'] }, 'POST')).allowed);
});

test('MFA and its freshness: step-up challenge (RFC 9470) for users, plain 403 for keys', () => {
  const noOtp = user('admin', ['admin'], { amr: ['pwd'] });
  const v = verdict('user', facts(noOtp, 'DELETE', { params: { id: 'bob' } }));
  assert.ok(!v.allowed && v.failure.check === 'mfa');
  const e = toError(policy, v.failure, { principal: noOtp });
  assert.equal(e.status, 401);
  assert.equal(e.code, 'RAMPART_AUTHN_STEP_UP_REQUIRED');
  assert.match(e.headers['www-authenticate'] ?? '', /error="insufficient_user_authentication".*acr_values="urn:rampart:acr:mfa".*max_age=300/);
  const stale = user('admin', ['admin'], { authTime: Math.floor(MONDAY_10 / 1000) - 301 });
  const s = verdict('user', facts(stale, 'DELETE'));
  assert.ok(!s.allowed && s.failure.check === 'mfa');
  const se = toError(policy, s.failure, { principal: stale });
  assert.doesNotMatch(se.headers['www-authenticate'] ?? '', /acr_values/, 'the factor is there: only a more recent login is asked for');
  assert.ok(verdict('user', facts(admin, 'DELETE')).allowed);
  const key: Principal = { kind: 'key', subject: 'k2', issuer: 'urn:rampart:api-keys', roles: ['admin'], scopes: [], amr: [], claims: {} };
  const k = verdict('user', facts(key, 'DELETE'));
  assert.ok(!k.allowed);
  assert.equal(toError(policy, k.failure, { principal: key }).code, 'RAMPART_AUTHZ_DENIED');
});

test('the denial reported is that of the rule that got furthest', () => {
  // admin without otp on GET /orders/1: orders-own passes (no MFA there) — allowed; on DELETE of a
  // user the only rule fails on MFA, so the answer is a step-up, not "forbidden".
  const noOtp = user('admin', ['admin'], { amr: ['pwd'] });
  const trace: RuleTrace[] = [];
  const v = decide(policy, policy.routes.get('user'), facts(noOtp, 'DELETE'), trace);
  assert.ok(!v.allowed && v.failure.check === 'mfa');
  assert.deepEqual(trace[0]?.checks.map((c) => `${c.check}:${c.ok}`), ['authenticated:true', 'permissions:true', 'scope:true', 'mfa:false']);
});

test('BOLA by path: the {id} must be the caller\'s subject, and of the same issuer and kind (S3)', () => {
  assert.ok(verdict('user', facts(alice, 'GET', { params: { id: 'alice' } })).allowed);
  const v = verdict('user', facts(alice, 'GET', { params: { id: 'bob' } }));
  assert.ok(!v.allowed && v.failure.check === 'ownership');
  assert.equal(toError(policy, v.failure, { principal: alice }).status, 403);
  // An external IdP user named "alice" is not the built-in alice.
  const impostor = user('alice', ['customer'], { issuer: 'https://idp.example.com' });
  assert.ok(!verdict('user', facts(impostor, 'GET', { params: { id: 'alice' } })).allowed);
  // Nor is a client or a key whose id is "alice".
  const client: Principal = { ...alice, kind: 'client', clientId: 'alice' };
  assert.ok(!verdict('user', facts(client, 'GET', { params: { id: 'alice' } })).allowed);
});

test('BOLA by query: every occurrence must match, a missing one fails closed', () => {
  const analyst = user('ann', ['analyst'], { scopes: ['reports:run'] });
  assert.ok(verdict('search', facts(analyst, 'GET', { query: 'owner=ann' })).allowed);
  assert.ok(!verdict('search', facts(analyst, 'GET', { query: 'owner=ann&owner=bob' })).allowed, 'parameter pollution');
  assert.ok(!verdict('search', facts(analyst, 'GET', { query: '' })).allowed);
  assert.ok(!verdict('search', facts(analyst, 'GET', { query: 'owner=bob' })).allowed);
});

test('BOLA by body: a JSON pointer into the parsed body; numbers equal their text; other types never match', () => {
  const f = (body: unknown, who = alice) => verdict('batch', facts(who, 'POST', { body }));
  assert.ok(f({ customer: { id: 'alice' } }).allowed);
  assert.ok(!f({ customer: { id: 'bob' } }).allowed);
  assert.ok(!f({ customer: {} }).allowed);
  assert.ok(!f(undefined).allowed);
  assert.ok(!f({ customer: { id: ['alice'] } }).allowed);
  assert.ok(f({ customer: { id: 42 } }, user('42', ['customer'])).allowed);
});

test('networks: the client address must be inside one of the ranges (IPv4 and IPv6)', () => {
  const analyst = user('ann', ['analyst'], { scopes: ['reports:run'] });
  assert.ok(verdict('search', facts(analyst, 'GET', { query: 'owner=ann', clientIp: '2001:db8::5' })).allowed);
  const v = verdict('search', facts(analyst, 'GET', { query: 'owner=ann', clientIp: '192.0.2.1' }));
  assert.ok(!v.allowed && v.failure.check === 'network');
});

test('schedule: days and hours in the policy\'s time zone, windows across midnight', () => {
  const analyst = user('ann', ['analyst'], { scopes: ['reports:run'] });
  const at = (iso: string) => verdict('search', facts(analyst, 'GET', { query: 'owner=ann', now: Date.parse(iso) }));
  assert.ok(at('2026-11-30T08:00:00Z').allowed, 'Monday 09:00 Paris');
  assert.ok(!at('2026-11-30T07:59:00Z').allowed, 'Monday 08:59 Paris');
  assert.ok(!at('2026-11-30T17:00:00Z').allowed, 'Monday 18:00 Paris: the end is exclusive');
  assert.ok(!at('2026-11-29T10:00:00Z').allowed, 'Sunday');
  assert.ok(at('2026-11-28T21:30:00Z').allowed, 'Saturday 22:30 Paris');
  assert.ok(at('2026-11-29T00:30:00Z').allowed, 'Sunday 01:30 Paris, from Saturday\'s window');
  assert.ok(!at('2026-11-29T01:30:00Z').allowed, 'Sunday 02:30 Paris');
  // Summer time: 09:00 in Paris is 07:00 UTC in July.
  assert.ok(at('2026-07-06T07:00:00Z').allowed);
  assert.deepEqual(localTime('Asia/Kolkata', Date.parse('2026-11-30T00:00:00Z')), { day: 'mon', minutes: 330 });
  assert.equal(withinWindow({ days: undefined, from: 0, to: 1440, timeZone: 'UTC', text: '' }, Date.now()), true);
});

test('shadow rules never decide: they are evaluated beside the enforced ones and only logged', () => {
  // A trial rule for the same method: alice's DELETE of a user stays denied by the enforced rule,
  // even though the trial rule got further (ownership) before failing.
  const withTrial = compilePolicy(parseConfig(yaml.replace(
    '    - { id: user-delete,',
    '    - { id: user-trial, route: user, methods: [DELETE], permissions: [orders:read], ownership: { request: [{ path: id }] }, mode: shadow }\n    - { id: user-delete,',
  ), 'rampart.yaml', '/tmp', STAGES).config).policy;
  const denied = decide(withTrial, withTrial.routes.get('user'), facts(alice, 'DELETE', { params: { id: 'bob' } }));
  assert.ok(!denied.allowed && denied.failure.rule?.id === 'user-delete');
  // A trial rule that would allow does not allow either.
  const selfDelete = decide(withTrial, withTrial.routes.get('user'), facts(alice, 'DELETE', { params: { id: 'alice' } }));
  assert.ok(!selfDelete.allowed);
  // The enforced rule allows and the trial rule would deny: allowed, with the would-be denial.
  const adminCall = decide(withTrial, withTrial.routes.get('user'), facts(admin, 'DELETE', { params: { id: 'bob' } }));
  assert.ok(adminCall.allowed && adminCall.rule?.id === 'user-delete' && adminCall.shadowed?.rule?.id === 'user-trial');
  // A method covered by shadow rules only is on trial: allowed, its would-be denial reported.
  const trialOnly = compilePolicy(parseConfig(yaml.replace('{ id: user-delete, route: user, methods: [DELETE], permissions: [users:delete], mfa: { maxAgeSeconds: 300 } }', '{ id: user-delete, route: user, methods: [DELETE], permissions: [users:delete], mode: shadow }'), 'rampart.yaml', '/tmp', STAGES).config).policy;
  const v = decide(trialOnly, trialOnly.routes.get('user'), facts(alice, 'DELETE'));
  assert.ok(v.allowed && v.rule === undefined && v.shadowed?.rule?.id === 'user-delete' && v.shadowed.check === 'permissions');
});

test('query ownership reads the one value every framework agrees on: aliases, repeats and ";" fail closed', () => {
  const analyst = user('ann', ['analyst'], { scopes: ['reports:run'] });
  const q = (query: string) => verdict('search', facts(analyst, 'GET', { query }));
  assert.ok(q('owner=ann&x=1').allowed);
  for (const attack of ['owner=ann&owner[]=bob', 'owner=ann&owner%5B%5D=bob', 'owner=ann&+owner=bob', 'owner=ann&%20owner=bob', 'owner=ann&Owner=bob', 'owner=ann;owner=bob', 'x=1;owner=bob', 'owner=ann&owner=ann']) {
    const v = q(attack);
    assert.ok(!v.allowed && v.failure.check === 'ownership', attack);
  }
});

test('numbers beyond 2^53 never match (they may already be another number once parsed)', () => {
  const big = user('9007199254740992', ['customer']);
  assert.ok(!verdict('batch', facts(big, 'POST', { body: { customer: { id: 9007199254740993 } } })).allowed);
  assert.ok(verdict('batch', facts(big, 'POST', { body: { customer: { id: '9007199254740992' } } })).allowed);
});

test('a step-up is the answer when a rule would need only that, even if another rule got to ownership', () => {
  const route = compilePolicy(parseConfig(yaml.replace(
    '    - { id: user-delete,',
    '    - { id: user-own-delete, route: user, methods: [DELETE], permissions: [orders:read], ownership: { request: [{ path: id }] } }\n    - { id: user-delete,',
  ), 'rampart.yaml', '/tmp', STAGES).config).policy;
  const stale = user('admin', ['admin'], { authTime: Math.floor(MONDAY_10 / 1000) - 3600 });
  const v = decide(route, route.routes.get('user'), facts(stale, 'DELETE', { params: { id: 'bob' } }));
  assert.ok(!v.allowed && v.failure.check === 'mfa' && v.failure.rule?.id === 'user-delete');
});

test('acr_values name the built-in server\'s ACR only to its own users', () => {
  const external = user('admin', ['admin'], { issuer: 'https://idp.example.com', amr: ['pwd'] });
  const v = verdict('user', facts(external, 'DELETE'));
  assert.ok(!v.allowed && v.failure.check === 'mfa');
  const challenge = toError(policy, v.failure, { principal: external }).headers['www-authenticate'] ?? '';
  assert.match(challenge, /insufficient_user_authentication/);
  assert.doesNotMatch(challenge, /acr_values/);
});

test('localTime: the answer kept for a UTC minute is that minute\'s, per zone, across a change of offset', () => {
  // Paris springs forward at 01:00 UTC on 2026-03-29 (02:00 CET becomes 03:00 CEST).
  assert.deepEqual(localTime('Europe/Paris', Date.parse('2026-03-29T00:59:30Z')), { day: 'sun', minutes: 119 });
  assert.deepEqual(localTime('Europe/Paris', Date.parse('2026-03-29T00:59:59.999Z')), { day: 'sun', minutes: 119 });
  assert.deepEqual(localTime('Europe/Paris', Date.parse('2026-03-29T01:00:00Z')), { day: 'sun', minutes: 180 });
  assert.deepEqual(localTime('Europe/Paris', Date.parse('2026-03-29T00:59:45Z')), { day: 'sun', minutes: 119 }, 'a clock that steps back');
  // The same instant in another zone is not the minute kept for Paris.
  const t = Date.parse('2026-11-30T23:10:00Z');
  assert.deepEqual(localTime('Europe/Paris', t), { day: 'tue', minutes: 10 });
  assert.deepEqual(localTime('Asia/Kolkata', t), { day: 'tue', minutes: 4 * 60 + 40 });
  assert.deepEqual(localTime('America/New_York', t), { day: 'mon', minutes: 18 * 60 + 10 });
});

test('localTime: an offset that is not a whole number of minutes is asked for every call', () => {
  // Monrovia kept its local mean time (UTC−00:44:30) until 1972: UTC 12:00:10 is 11:15:40 there, 12:00:40 is 11:16:10.
  assert.deepEqual(localTime('Africa/Monrovia', Date.parse('1970-06-01T12:00:40Z')), { day: 'mon', minutes: 11 * 60 + 16 });
  assert.deepEqual(localTime('Africa/Monrovia', Date.parse('1970-06-01T12:00:10Z')), { day: 'mon', minutes: 11 * 60 + 15 });
  assert.deepEqual(localTime('Africa/Monrovia', Date.parse('1970-06-01T12:00:50Z')), { day: 'mon', minutes: 11 * 60 + 16 });
});

test('roles are read from the principal on every decision: an unknown role grants nothing', () => {
  assert.ok(!verdict('orders', facts(user('eve', ['superuser']), 'POST')).allowed);
  assert.ok(!verdict('orders', facts(user('eve', []), 'POST')).allowed);
});
