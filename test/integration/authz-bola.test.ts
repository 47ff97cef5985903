/**
 * Object-level authorization end to end (issue 4, OWASP API1 "BOLA", S3): real TLS through the
 * real gateway to a deliberately vulnerable shop that checks no ownership at all. Every test
 * proves that the gateway stops the attack — by path id, query, body or the upstream's answer —
 * and that a key, a client or another issuer's user whose id is "alice" gains nothing from it.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startVulnerableShop, type VulnerableShop } from '../helpers/vulnerable-shop.ts';
import { AUTH_SERVER_YAML, issuers, addUsers, addClients, bearer, apiKey, expectProblem, accessLine, securityEvents, rawFetch, type Issuers } from '../helpers/authz.ts';
import { startTestIdp, type TestIdp } from '../../src/stages/authn/test-idp.ts';
import { makeKey, signToken, now, type TestKey } from '../../src/stages/authn/testing.ts';

/** A foreign answer is refused exactly as a missing object is answered through the gateway: a masked upstream 404. */
const HIDDEN = 'RAMPART_UPSTREAM_REJECTED';

const SCOPE = 'orders:read orders:write profile:read profile:write vip:read';

let shop: VulnerableShop;
let idp: TestIdp;
let corpKey: TestKey;
let id: Issuers;
let t: TestGateway;
let events: ReturnType<typeof securityEvents>;

const config = () => `
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
${AUTH_SERVER_YAML}
authentication:
  accountCacheSeconds: 0
  apiKeys: { enabled: true, cacheSeconds: 0 }
  builtin:
    bindings: [{ subject: "user:alice", roles: [vip] }]
  issuers:
    - id: corp
      issuer: "${idp.issuer}"
      audiences: [shop-api]
      algorithms: [ES256]
      requireTyp: JWT
      ca: idp-ca.pem
      allowPrivateNetwork: true
      roles: { claim: groups, map: { shoppers: [customer], vips: [vip] } }
upstreams:
  - { id: shop, targets: [{ url: ${shop.url} }], retries: { attempts: 0 } }
routes:
  - { id: profile, path: "/api/users/{id}", methods: [GET, PUT, PATCH, DELETE], upstream: shop, stripPrefix: /api }
  - { id: profile-strict, path: "/api/strict/users/{id}", methods: [GET], upstream: shop, stripPrefix: /api/strict }
  - { id: order-search, path: /api/search/orders, methods: [GET], upstream: shop, stripPrefix: /api/search }
  - { id: order-list, path: /api/orders, methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: order-create, path: /api/orders, methods: [POST], upstream: shop, stripPrefix: /api }
  - { id: order, path: "/api/orders/{id}", methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: order-list-v2, path: /api/v2/orders, methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: vip, path: /api/vip, methods: [GET], upstream: shop, stripPrefix: /api }
authorization:
  permissions:
    profile:read: {}
    profile:write: {}
    orders:read: {}
    orders:write: {}
    vip:read: {}
  roles:
    customer: { permissions: [profile:read, profile:write, orders:read, orders:write] }
    vip: { permissions: [vip:read] }
  rules:
    - id: profile-read-own
      route: profile
      methods: [GET]
      permissions: [profile:read]
      ownership: { request: [{ path: id }] }
    - id: profile-change-own
      route: profile
      methods: [PUT, PATCH, DELETE]
      permissions: [profile:write]
      ownership: { request: [{ path: id }] }
    - id: profile-strict-own
      route: profile-strict
      permissions: [profile:read]
      ownership: { request: [{ path: id }], onMismatch: 403 }
    - id: orders-search-own
      route: order-search
      permissions: [orders:read]
      ownership: { request: [{ query: owner }] }
    - id: orders-list-own
      route: order-list
      permissions: [orders:read]
      ownership: { response: { field: ownerId } }
    - id: orders-create-own
      route: order-create
      permissions: [orders:write]
      ownership: { request: [{ body: /owner }] }
    - id: order-own
      route: order
      permissions: [orders:read]
      ownership: { response: { field: ownerId } }
    - id: orders-v2-own
      route: order-list-v2
      permissions: [orders:read]
      ownership: { response: { field: ownerId, items: /data } }
    - id: vip-lounge
      route: vip
      permissions: [vip:read]
`;

before(async () => {
  shop = await startVulnerableShop();
  corpKey = makeKey('ES256', 'corp-1');
  idp = await startTestIdp({ keys: [corpKey] });
  id = issuers(SCOPE);
  events = securityEvents();
  t = await startTestGateway(config(), { files: { 'idp-ca.pem': idp.caPem }, authn: { builtin: id.builtin, apiKeys: id.keys } });
  await addUsers(t.gw.store, { alice: ['customer'], bob: ['customer'], '1001': ['customer'], '9007199254740992': ['customer'] });
  // S3: a client whose id is a user's id, with the same role as the user.
  await addClients(t.gw.store, { alice: ['customer', 'vip'] });
});
after(async () => {
  events?.stop();
  await t?.close();
  await Promise.all([shop?.close(), idp?.close()]);
});

const alice = () => bearer(id.user('alice'));

/** A token of the external IdP "corp" (its own issuer; sub chosen by that IdP). */
function corpToken(sub: string, groups: string[]): string {
  const at = now();
  return signToken({ alg: 'ES256', typ: 'JWT', kid: corpKey.kid }, { iss: idp.issuer, aud: 'shop-api', sub, iat: at, exp: at + 300, scope: SCOPE, groups }, corpKey);
}

function shopSaw(pathPrefix: string): number {
  return shop.received.filter((r) => r.path.startsWith(pathPrefix)).length;
}

test('BOLA by path: alice reads her own profile, and gets 404 for bob\'s (never 403: existence is not confirmed)', async () => {
  const own = await t.fetch('/api/users/alice', alice());
  assert.equal(own.status, 200, own.text);
  assert.equal(own.json().id, 'alice');
  const before = shopSaw('/users/bob');
  const res = await t.fetch('/api/users/bob', alice());
  const p = expectProblem(res, 404, 'RAMPART_AUTHZ_NOT_FOUND');
  assert.ok(!JSON.stringify(p).includes('bob'), 'the answer does not echo whose object it is');
  assert.equal(shopSaw('/users/bob'), before, 'the vulnerable shop was never asked');
  const line = await accessLine(t, res);
  assert.equal(line.ruleId, 'profile-read-own');
  assert.equal(line.reason, 'RAMPART_AUTHZ_NOT_FOUND');
  const [ev] = (await events.of(res, t)).filter((e) => e['event.action'] === 'authz.denied');
  assert.equal(ev?.['rule.id'], 'profile-read-own');
  assert.equal(ev?.['user.id'], 'alice');
  assert.equal(ev?.['http.response.status_code'], 404);
});

test('BOLA by path: alice cannot change or delete bob\'s profile (PUT, PATCH, DELETE → 404, nothing reaches the shop)', async () => {
  const writes = shop.writes().length;
  for (const method of ['PUT', 'PATCH', 'DELETE'] as const) {
    const res = await t.fetch('/api/users/bob', { ...alice(), method, headers: { ...alice().headers, 'content-type': 'application/json' }, body: method === 'DELETE' ? null : '{"email":"pwned@evil.test"}' });
    expectProblem(res, 404, 'RAMPART_AUTHZ_NOT_FOUND');
    assert.equal((await accessLine(t, res)).ruleId, 'profile-change-own', method);
  }
  assert.equal(shop.writes().length, writes, 'the shop executed no write');
  // Her own profile she may change.
  const own = await t.fetch('/api/users/alice', { method: 'PATCH', headers: { ...alice().headers, 'content-type': 'application/json' }, body: '{"email":"a@shop.test"}' });
  assert.equal(own.status, 200, own.text);
  assert.equal(own.json().done, 'PATCH');
});

test('BOLA by path: encodings and dot segments of bob\'s id are the id the gateway checks (targets sent byte for byte)', async () => {
  const before = shopSaw('/users/bob');
  const h = alice().headers;
  for (const path of ['/api/users/bo%62', '/api/users/%62%6F%62', '/api/users/alice/../bob', '/api/users/./bob', '/api//users//bob']) {
    expectProblem(await rawFetch(t, path, h), 404, 'RAMPART_AUTHZ_NOT_FOUND');
    expectProblem(await rawFetch(t, path, h, 'DELETE'), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  }
  // Ambiguous forms are refused before any decision.
  for (const path of ['/api/users/alice%2f..%2fbob', '/api/users/alice%2F..%2Fbob', '/api/users/alice;bob', '/api/users/alice/%2e%2e/bob', '/api/users/%252e%252e%252fbob', '/api/users/alice\\..\\bob']) {
    expectProblem(await rawFetch(t, path, h), 400, 'RAMPART_HYGIENE_PATH_INVALID');
  }
  // Another case is another id (subjects compare exactly).
  expectProblem(await rawFetch(t, '/api/users/ALICE', h), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  assert.equal(shopSaw('/users/bob'), before);
  assert.equal(shop.received.filter((r) => r.path.toLowerCase().includes('alice') && r.path !== '/users/alice').length, 0);
});

test('BOLA by path with onMismatch: 403 → 403 RAMPART_AUTHZ_NOT_OWNER', async () => {
  assert.equal((await t.fetch('/api/strict/users/alice', alice())).status, 200);
  const res = await t.fetch('/api/strict/users/bob', alice());
  expectProblem(res, 403, 'RAMPART_AUTHZ_NOT_OWNER');
  assert.equal((await accessLine(t, res)).ruleId, 'profile-strict-own');
});

test('BOLA by query: ?owner= must be the caller; repeated, missing or disguised values are denied', async () => {
  const own = await t.fetch('/api/search/orders?owner=alice', alice());
  assert.equal(own.status, 200, own.text);
  assert.deepEqual(own.json().map((o: { id: string }) => o.id), ['o-a1', 'o-a2']);
  const before = shopSaw('/orders');
  // The shop takes the last of repeated values: pollution would hand out bob's orders.
  for (const q of ['owner=bob', 'owner=alice&owner=bob', 'owner=bob&owner=alice', 'owner=alice;owner=bob', 'owner=Alice', 'owner=alice%00', 'owner=']) {
    expectProblem(await t.fetch(`/api/search/orders?${q}`, alice()), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  }
  // Missing: the shop would list every owner's orders.
  for (const q of ['', '?', '?owner%5B%5D=alice', '?OWNER=alice']) {
    expectProblem(await t.fetch(`/api/search/orders${q}`, alice()), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  }
  assert.equal(shopSaw('/orders'), before, 'no denied request reached the shop');
  // Percent-encoding decodes to the same value on both sides.
  assert.equal((await t.fetch('/api/search/orders?owner=%61lice', alice())).status, 200);
});

test('BOLA by body: the owner of a new order must be the caller (string or number), else 404; missing or odd types are denied', async () => {
  const post = (body: string, token = id.user('alice'), type = 'application/json') => t.fetch('/api/orders', { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': type }, body });
  const ok = await post('{"owner":"alice","item":"tea"}');
  assert.equal(ok.status, 201, ok.text);
  assert.equal(ok.json().ownerId, 'alice');
  const writes = shop.writes().length;
  for (const body of ['{"owner":"bob"}', '{"item":"tea"}', '{"owner":null}', '{"owner":["alice"]}', '{"owner":{"$ne":null}}', '{"owner":true}', '{"owner":0}', '{"owner":"alice "}', '{"own\\u0065r":"bob"}', '{"order":{"owner":"alice"}}', '[{"owner":"alice"}]']) {
    const res = await post(body);
    expectProblem(res, 404, 'RAMPART_AUTHZ_NOT_FOUND');
    assert.equal((await accessLine(t, res)).ruleId, 'orders-create-own', body);
  }
  // A second `owner` (the shop's JSON.parse keeps the last one) is refused by the one parse.
  for (const body of ['{"owner":"alice","owner":"bob"}', '{"owner":"alice","own\\u0065r":"bob"}']) {
    expectProblem(await post(body), 400, 'RAMPART_BODY_JSON_INVALID');
  }
  assert.equal(shop.writes().length, writes, 'no denied order was created');
  // A numeric owner equals the subject's decimal text: user "1001" may send 1001 or "1001".
  for (const body of ['{"owner":1001}', '{"owner":"1001"}']) assert.equal((await post(body, id.user('1001'))).status, 201, body);
  for (const body of ['{"owner":1002}', '{"owner":"01001"}', '{"owner":1001.5}', '{"owner":"1001.0"}']) {
    expectProblem(await post(body, id.user('1001')), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  }
});

test('BOLA by number: an owner id beyond 2^53 is never matched by its rounded value', async () => {
  // 9007199254740993 parses to the same double as 9007199254740992: a service with exact integers
  // (Python, Go, Java long) would act for another owner than the one the gateway compared.
  const big = id.user('9007199254740992');
  const post = (body: string) => t.fetch('/api/orders', { method: 'POST', headers: { authorization: `Bearer ${big}`, 'content-type': 'application/json' }, body });
  const writes = shop.writes().length;
  for (const body of ['{"owner":9007199254740993}', '{"owner":9007199254740992}', '{"owner":9.007199254740993e15}']) {
    expectProblem(await post(body), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  }
  assert.equal(shop.writes().length, writes);
  assert.equal((await post('{"owner":"9007199254740992"}')).status, 201, 'the exact text matches');
  // The same in the upstream's answer.
  expectProblem(await t.fetch('/api/orders/o-big', bearer(big)), 404, HIDDEN);
});

test('undecidable: body ownership with a body that is not JSON is denied, never allowed', async () => {
  const writes = shop.writes().length;
  const cases: Array<[string, string]> = [
    ['text/plain', '{"owner":"alice"}'],
    ['application/x-www-form-urlencoded', 'owner=alice'],
    ['application/xml', '<order><owner>alice</owner></order>'],
  ];
  for (const [type, body] of cases) {
    const res = await t.fetch('/api/orders', { method: 'POST', headers: { authorization: `Bearer ${id.user('alice')}`, 'content-type': type }, body });
    expectProblem(res, 404, 'RAMPART_AUTHZ_NOT_FOUND');
  }
  const none = await t.fetch('/api/orders', { method: 'POST', headers: { authorization: `Bearer ${id.user('alice')}` } });
  expectProblem(none, 404, 'RAMPART_AUTHZ_NOT_FOUND');
  expectProblem(await t.fetch('/api/orders', { method: 'POST', headers: { authorization: `Bearer ${id.user('alice')}`, 'content-type': 'application/json' }, body: '{"owner":"alice"' }), 400, 'RAMPART_BODY_JSON_INVALID');
  assert.equal(shop.writes().length, writes);
});

test('response ownership: alice asks the vulnerable shop for bob\'s order → 404, her own → 200', async () => {
  const own = await t.fetch('/api/orders/o-a1', alice());
  assert.equal(own.status, 200, own.text);
  assert.equal(own.json().ownerId, 'alice');
  const before = shopSaw('/orders/o-b1');
  const res = await t.fetch('/api/orders/o-b1', alice());
  const p = expectProblem(res, 404, HIDDEN);
  assert.ok(!res.text.includes('secret'), 'nothing of bob\'s order leaves the gateway');
  // Exactly what a missing order looks like through the gateway: a foreign one cannot be told apart.
  const missing = await t.fetch('/api/orders/o-missing', alice());
  assert.deepEqual({ ...p, requestId: '' }, { ...missing.json(), requestId: '' });
  assert.equal(shopSaw('/orders/o-b1'), before + 1, 'the shop answered: the gateway held the answer back');
  assert.equal((await accessLine(t, res)).ruleId, 'order-own');
  const [ev] = (await events.of(res, t)).filter((e) => e['event.action'] === 'authz.denied');
  assert.equal(ev?.['rule.id'], 'order-own');
  assert.match(String(ev?.['event.reason']), /response/);
  // A numeric owner id in the answer equals the subject's decimal text.
  assert.equal((await t.fetch('/api/orders/o-n1', bearer(id.user('1001')))).status, 200);
  expectProblem(await t.fetch('/api/orders/o-n1', alice()), 404, HIDDEN);
});

test('response ownership: a list mixing owners is refused as a whole (every element checked, bob\'s is last)', async () => {
  expectProblem(await t.fetch('/api/orders', alice()), 404, HIDDEN);
  // Alice's two orders, then bob's: only the last element is foreign.
  const res = await t.fetch('/api/orders?owners=alice,bob', alice());
  expectProblem(res, 404, HIDDEN);
  assert.ok(!res.text.includes('tea'), 'not even alice\'s part of the list');
  const ev = (await events.of(res, t)).find((e) => e['event.action'] === 'authz.denied');
  assert.match(String(ev?.['event.reason']), /element 2 of 3 belongs to someone else/);
  // Only hers: passes. Nothing at all: passes (nothing to leak).
  const mine = await t.fetch('/api/orders?owner=alice', alice());
  assert.equal(mine.status, 200, mine.text);
  assert.equal(mine.json().length, 2);
  const empty = await t.fetch('/api/orders?owner=nobody', alice());
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.json(), []);
  // Pollution on the list: the shop answers bob's, the gateway refuses.
  expectProblem(await t.fetch('/api/orders?owner=alice&owner=bob', alice()), 404, HIDDEN);
});

test('response ownership: a list in an envelope (items: /data) is checked element by element', async () => {
  expectProblem(await t.fetch('/api/v2/orders', alice()), 404, HIDDEN);
  const mine = await t.fetch('/api/v2/orders?owner=alice', alice());
  assert.equal(mine.status, 200, mine.text);
  assert.equal(mine.json().total, 2);
  // Elements without the owner field cannot be checked.
  expectProblem(await t.fetch('/api/v2/orders?owner=alice&format=no-owner', alice()), 502, 'RAMPART_AUTHZ_RESPONSE_UNVERIFIED');
});

test('response ownership: an answer that cannot be read is 502 RAMPART_AUTHZ_RESPONSE_UNVERIFIED, even for alice\'s own order', async () => {
  for (const format of ['text', 'broken-gzip', 'compress', 'no-owner']) {
    const res = await t.fetch(`/api/orders/o-a1?format=${format}`, alice());
    expectProblem(res, 502, 'RAMPART_AUTHZ_RESPONSE_UNVERIFIED');
    assert.ok(!res.text.includes('tea'), format);
    assert.equal((await accessLine(t, res)).ruleId, 'order-own', format);
  }
  // A gzip'd answer is decoded and checked: bob's is refused, alice's passes with its bytes intact.
  expectProblem(await t.fetch('/api/orders/o-b1?format=gzip', alice()), 404, HIDDEN);
  const gz = await t.fetch('/api/orders/o-a1?format=gzip', { headers: { ...alice().headers, 'accept-encoding': 'gzip' } });
  assert.equal(gz.status, 200);
  assert.equal(gz.headers['content-encoding'], 'gzip');
});

test('response ownership: an upstream 404 is not checked (no owner in an error) and answered as the proxy masks it', async () => {
  const res = await t.fetch('/api/orders/o-missing', alice());
  expectProblem(res, 404, HIDDEN);
  assert.ok(!res.text.includes('no such order'), 'the upstream\'s own text is masked (S11)');
  const ev = (await events.of(res, t)).find((e) => e['event.action'] === 'authz.denied');
  assert.equal(ev, undefined, 'not an authorization denial');
});

test('S3: an API key whose id is "alice" gains nothing from alice\'s ownership or bindings', async () => {
  const key = apiKey(id.keys.add('alice', ['customer']));
  const before = shop.writes().length;
  expectProblem(await t.fetch('/api/users/alice', key), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  expectProblem(await t.fetch('/api/search/orders?owner=alice', key), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  expectProblem(await t.fetch('/api/orders/o-a1', key), 404, HIDDEN);
  expectProblem(await t.fetch('/api/orders', { method: 'POST', headers: { ...key.headers, 'content-type': 'application/json' }, body: '{"owner":"alice"}' }), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  // The binding user:alice → vip is the built-in user's, not the key's.
  const vip = await t.fetch('/api/vip', key);
  expectProblem(vip, 403, 'RAMPART_AUTHZ_DENIED');
  assert.equal((await accessLine(t, vip)).ruleId, 'vip-lounge');
  assert.equal((await t.fetch('/api/vip', alice())).status, 200, 'the real alice is bound to vip');
  assert.equal(shop.writes().length, before);
});

test('S3: a client whose id is "alice" (client credentials) gains nothing from alice\'s ownership', async () => {
  const client = bearer(id.client('alice'));
  expectProblem(await t.fetch('/api/users/alice', client), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  expectProblem(await t.fetch('/api/search/orders?owner=alice', client), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  expectProblem(await t.fetch('/api/orders/o-a1', client), 404, HIDDEN);
  expectProblem(await t.fetch('/api/orders', { method: 'POST', headers: { ...client.headers, 'content-type': 'application/json' }, body: '{"owner":"alice"}' }), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  // Its own record's roles do apply (it is a principal, just not alice).
  assert.equal((await t.fetch('/api/vip', client)).status, 200);
});

test('S3: a user of another issuer with sub "alice" gains nothing from alice\'s ownership or bindings', async () => {
  const corp = bearer(corpToken('alice', ['shoppers']));
  // Authenticated, with the mapped role (the request reaches authorization).
  const check = await t.fetch('/api/users/alice', corp);
  expectProblem(check, 404, 'RAMPART_AUTHZ_NOT_FOUND');
  const line = await accessLine(t, check);
  assert.equal(line.principal, 'user:alice');
  assert.equal(line.authn?.issuer, 'corp');
  expectProblem(await t.fetch('/api/search/orders?owner=alice', corp), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  expectProblem(await t.fetch('/api/orders/o-a1', corp), 404, HIDDEN);
  expectProblem(await t.fetch('/api/orders', { method: 'POST', headers: { ...corp.headers, 'content-type': 'application/json' }, body: '{"owner":"alice"}' }), 404, 'RAMPART_AUTHZ_NOT_FOUND');
  expectProblem(await t.fetch('/api/vip', corp), 403, 'RAMPART_AUTHZ_DENIED');
  // Its own mapping does apply.
  assert.equal((await t.fetch('/api/vip', bearer(corpToken('alice', ['vips'])))).status, 200);
});
