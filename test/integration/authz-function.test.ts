/**
 * Function-level authorization end to end (issue 4, OWASP API5, S3): real TLS through the real
 * gateway to a vulnerable shop that honours every method override. A customer never reaches an
 * admin function — not by asking, not by switching methods, not by path tricks, not by an
 * override; a token's scopes narrow its roles and never add to them; shadow rules and routes let
 * requests through and say which rule would have denied; public rules serve anonymous callers.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startVulnerableShop, type VulnerableShop } from '../helpers/vulnerable-shop.ts';
import { AUTH_SERVER_YAML, issuers, addUsers, bearer, apiKey, expectProblem, accessLine, securityEvents, rawFetch, type Issuers } from '../helpers/authz.ts';
import { now } from '../../src/stages/authn/testing.ts';

const SCOPE = 'orders:read reports:read items:read items:write beta:use admin reports:delete items:delete';

let shop: VulnerableShop;
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
upstreams:
  - { id: shop, targets: [{ url: ${shop.url} }], retries: { attempts: 0 } }
routes:
  - { id: admin, path: /api/admin, methods: [GET, DELETE], upstream: shop, stripPrefix: /api }
  - { id: pages, path: "/api/{page}", methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: reports, path: /api/reports, methods: [GET, DELETE], upstream: shop, stripPrefix: /api }
  - { id: item, path: "/api/items/{id}", methods: [GET, DELETE], upstream: shop, stripPrefix: /api }
  - { id: items, path: /api/items, methods: [POST], upstream: shop, stripPrefix: /api }
  - { id: orders, path: /api/orders, methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: catalog, path: /api/catalog, methods: [GET, POST], upstream: shop, stripPrefix: /api }
  - { id: beta, path: /api/beta, methods: [GET], upstream: shop, stripPrefix: /api }
  - { id: legacy, path: /api/legacy, methods: [GET], upstream: shop, stripPrefix: /api, authz: { mode: shadow } }
  - { id: legacy-order, path: "/api/legacy/orders/{id}", methods: [GET], upstream: shop, stripPrefix: /api/legacy, authz: { mode: shadow } }
authorization:
  permissions:
    orders:read: {}
    reports:read: {}
    reports:delete: {}
    items:read: {}
    items:write: {}
    items:delete: {}
    beta:use: {}
    admin:read: { scopes: [admin] }
    admin:write: { scopes: [admin] }
  roles:
    customer: { permissions: [orders:read, reports:read, items:read, items:write] }
    admin: { inherits: [customer], permissions: [admin:read, admin:write, reports:delete, items:delete, beta:use] }
  rules:
    - { id: admin-read, route: admin, methods: [GET], permissions: [admin:read] }
    - { id: admin-delete, route: admin, methods: [DELETE], permissions: [admin:write] }
    - { id: pages, route: pages, authenticated: true }
    - { id: reports-read, route: reports, methods: [GET], permissions: [reports:read] }
    - { id: reports-delete, route: reports, methods: [DELETE], permissions: [reports:delete] }
    - { id: items-read, route: item, methods: [GET], permissions: [items:read] }
    - { id: items-delete, route: item, methods: [DELETE], permissions: [items:delete] }
    - { id: items-create, route: items, permissions: [items:write] }
    - { id: orders-read, route: orders, permissions: [orders:read] }
    - { id: catalog-browse, route: catalog, methods: [GET], public: true }
    - { id: catalog-edit, route: catalog, methods: [POST], permissions: [admin:write] }
    - { id: beta-trial, route: beta, permissions: [beta:use], mode: shadow }
    - { id: legacy-admin, route: legacy, permissions: [admin:read] }
    - { id: legacy-order-own, route: legacy-order, permissions: [orders:read], ownership: { response: { field: ownerId } } }
`;

before(async () => {
  shop = await startVulnerableShop();
  id = issuers(SCOPE);
  events = securityEvents();
  t = await startTestGateway(config(), { authn: { builtin: id.builtin, apiKeys: id.keys } });
  await addUsers(t.gw.store, { alice: ['customer'], root: ['admin'] });
});
after(async () => {
  events?.stop();
  await t?.close();
  await shop?.close();
});

const alice = (claims: Record<string, unknown> = {}) => bearer(id.user('alice', claims));
const root = (claims: Record<string, unknown> = {}) => bearer(id.user('root', claims));
const shopSaw = (path: string) => shop.received.filter((r) => r.path === path).length;

test('a customer calling an admin function: 403 RAMPART_AUTHZ_DENIED, the rule in the access log and the security event', async () => {
  const before = shopSaw('/admin');
  const res = await t.fetch('/api/admin', alice());
  const p = expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
  assert.ok(!JSON.stringify(p).includes('admin:read'), 'the policy is not disclosed to the caller');
  assert.equal(shopSaw('/admin'), before);
  const line = await accessLine(t, res);
  assert.equal(line.ruleId, 'admin-read');
  assert.equal(line.decision, 'deny');
  assert.equal(line.reason, 'RAMPART_AUTHZ_DENIED');
  assert.equal(line.principal, 'user:alice');
  const ev = (await events.of(res, t)).filter((e) => e['event.action'] === 'authz.denied');
  assert.equal(ev.length, 1);
  assert.equal(ev[0]?.['rule.id'], 'admin-read');
  assert.equal(ev[0]?.['event.outcome'], 'failure');
  assert.equal(ev[0]?.['user.id'], 'alice');
  assert.equal(ev[0]?.['rampart.route'], 'admin');
  assert.equal(ev[0]?.['http.response.status_code'], 403);
  assert.match(String(ev[0]?.['event.reason']), /do not grant admin:read/);
  // The admin passes.
  assert.equal((await t.fetch('/api/admin', root())).status, 200);
});

test('switching methods: DELETE where the customer\'s rule allows only GET → 403 by the DELETE rule', async () => {
  assert.equal((await t.fetch('/api/reports', alice())).status, 200);
  const writes = shop.writes().length;
  const res = await t.fetch('/api/reports', { ...alice(), method: 'DELETE' });
  expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
  assert.equal((await accessLine(t, res)).ruleId, 'reports-delete');
  expectProblem(await t.fetch('/api/admin', { ...alice(), method: 'DELETE' }), 403, 'RAMPART_AUTHZ_DENIED');
  // HEAD follows GET's rules, a method the route does not serve is 405 before any decision.
  const head = await t.fetch('/api/admin', { ...alice(), method: 'HEAD' });
  assert.equal(head.status, 403);
  const headLine = await accessLine(t, head);
  assert.equal(headLine.reason, 'RAMPART_AUTHZ_DENIED');
  assert.equal(headLine.ruleId, 'admin-read');
  expectProblem(await t.fetch('/api/reports', { ...alice(), method: 'PATCH' }), 405, 'RAMPART_ROUTE_METHOD_NOT_ALLOWED');
  expectProblem(await t.fetch('/api/reports', { ...alice(), method: 'PUT' }), 405, 'RAMPART_ROUTE_METHOD_NOT_ALLOWED');
  assert.equal(shop.writes().length, writes, 'the shop executed no write');
  assert.equal((await t.fetch('/api/reports', { ...root(), method: 'DELETE' })).status, 200, 'the admin may');
});

test('path tricks never reach a route or method the caller is not allowed (targets sent byte for byte)', async () => {
  const before = shopSaw('/admin');
  const h = alice().headers;
  // Normalised to /api/admin: the admin route and its rule, not the permissive /api/{page}.
  for (const path of ['/api//admin', '/api/./admin', '/api/%61dmin', '/api/%61%64%6d%69%6e', '/api/x/../admin', '/api/admin?x=/../pages', '//api/admin', '/api/pages/../admin']) {
    const res = await rawFetch(t, path, h);
    expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
    assert.equal((await accessLine(t, res)).ruleId, 'admin-read', path);
  }
  for (const path of ['/api/admin', '/api//admin', '/api/%61dmin']) {
    expectProblem(await rawFetch(t, path, h, 'DELETE'), 403, 'RAMPART_AUTHZ_DENIED');
  }
  // Ambiguous: refused before routing.
  for (const path of ['/api/admin%2f..', '/api/admin%2F', '/api/%2e/admin', '/api/%2e%2e/api/admin', '/api/admin%00', '/api/admin;x=1', '/api\\admin', '/api/adm%C0%AEn', '/api/%252e/admin']) {
    expectProblem(await rawFetch(t, path, h), 400, 'RAMPART_HYGIENE_PATH_INVALID');
  }
  // Another case or a trailing slash is another path: no route (paths are case-sensitive, RFC 3986 §6.2.2.1).
  for (const path of ['/API/admin', '/api/admin/', '/api/admin/.', '/api/admin/x', '/api/admin/..%61']) {
    expectProblem(await rawFetch(t, path, h), 404, 'RAMPART_ROUTE_NOT_FOUND');
  }
  // /api/Admin would reach the permissive /api/{page}, but a case-insensitive upstream (Express,
  // Spring, ASP.NET) would serve it as /admin: refused as ambiguous, never forwarded.
  const page = await rawFetch(t, '/api/Admin', h);
  expectProblem(page, 404, 'RAMPART_ROUTE_NOT_FOUND');
  assert.match(String((await accessLine(t, page)).reason), /RAMPART_ROUTE_NOT_FOUND/);
  // Another page in capitals is fine: no other route owns its lower-case form.
  const other = await rawFetch(t, '/api/About', h);
  assert.equal(other.status, 200);
  assert.equal(other.json().path, '/About');
  assert.equal(shopSaw('/admin'), before, 'no trick reached /admin at the shop');
});

test('method-override headers never reach the upstream: the shop runs the method that was authorized', async () => {
  const overrides = ['X-HTTP-Method-Override', 'X-Method-Override', 'X-HTTP-Method', 'x-http-method-override'];
  const from = shop.received.length;
  for (const name of overrides) {
    const res = await t.fetch('/api/items/7', { headers: { ...alice().headers, [name]: 'DELETE' } });
    assert.equal(res.status, 200, `${name}: ${res.text}`);
    assert.equal(res.json().done, 'GET', name);
    const post = await t.fetch('/api/items', { method: 'POST', headers: { ...alice().headers, [name]: 'DELETE', 'content-type': 'application/json' }, body: '{}' });
    assert.equal(post.json().done, 'POST', name);
  }
  // Underscore spellings (CGI maps them to the same variable) are dropped too.
  await t.fetch('/api/items/7', { headers: { ...alice().headers, 'X_HTTP_Method_Override': 'DELETE' } });
  const seen = shop.received.slice(from);
  assert.equal(seen.length, overrides.length * 2 + 1);
  for (const r of seen) {
    assert.notEqual(r.effectiveMethod, 'DELETE');
    assert.deepEqual(Object.keys(r.headers).filter((h) => h.includes('method')), [], 'no override header was forwarded');
  }
});

test('`_method` in the query or a form body → 400 RAMPART_HYGIENE_METHOD_OVERRIDE, nothing forwarded', async () => {
  const from = shop.received.length;
  for (const q of ['_method=DELETE', 'x=1&_method=delete', '%5Fmethod=DELETE', '_%6Dethod=DELETE', '%5F%6D%65%74%68%6F%64=DELETE']) {
    const res = await t.fetch(`/api/items/7?${q}`, alice());
    expectProblem(res, 400, 'RAMPART_HYGIENE_METHOD_OVERRIDE');
  }
  for (const [type, body] of [
    ['application/x-www-form-urlencoded', '_method=DELETE'],
    ['application/x-www-form-urlencoded; charset=utf-8', 'name=x&_method=DELETE'],
    ['Application/X-WWW-Form-Urlencoded', '%5Fmethod=DELETE'],
  ] as const) {
    const res = await t.fetch('/api/items', { method: 'POST', headers: { ...alice().headers, 'content-type': type }, body });
    expectProblem(res, 400, 'RAMPART_HYGIENE_METHOD_OVERRIDE');
  }
  assert.equal(shop.received.length, from, 'the shop received none of them');
  // A form without it passes.
  const ok = await t.fetch('/api/items', { method: 'POST', headers: { ...alice().headers, 'content-type': 'application/x-www-form-urlencoded' }, body: 'name=x&method=DELETE' });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json().done, 'POST');
});

test('scope narrowing: a token lacking the scope its role grants → 403 insufficient_scope naming the scope', async () => {
  const res = await t.fetch('/api/orders', alice({ scope: 'items:read' }));
  expectProblem(res, 403, 'RAMPART_AUTHN_INSUFFICIENT_SCOPE');
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="rampart", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"');
  assert.deepEqual(res.json().scopes, ['orders:read']);
  assert.equal((await accessLine(t, res)).ruleId, 'orders-read');
  // A permission carried by another scope name: the challenge names that scope.
  const admin = await t.fetch('/api/admin', root({ scope: 'orders:read' }));
  expectProblem(admin, 403, 'RAMPART_AUTHN_INSUFFICIENT_SCOPE');
  assert.match(String(admin.headers['www-authenticate']), /error="insufficient_scope", .*scope="admin"$/);
  assert.equal((await t.fetch('/api/admin', root({ scope: 'admin' }))).status, 200);
  // An API key with scopes is narrowed by them too; without scopes, its roles apply.
  expectProblem(await t.fetch('/api/orders', apiKey(id.keys.add('narrow', ['customer'], ['items:read']))), 403, 'RAMPART_AUTHN_INSUFFICIENT_SCOPE');
  assert.equal((await t.fetch('/api/orders', apiKey(id.keys.add('wide', ['customer'])))).status, 200);
});

test('scope narrowing: scopes never add what the roles lack', async () => {
  const writes = shop.writes().length;
  for (const [path, method] of [['/api/admin', 'GET'], ['/api/admin', 'DELETE'], ['/api/reports', 'DELETE'], ['/api/items/7', 'DELETE']] as const) {
    const res = await t.fetch(path, { ...alice({ scope: 'admin admin:read admin:write reports:delete items:delete' }), method });
    expectProblem(res, 403, 'RAMPART_AUTHZ_DENIED');
  }
  // A key whose scopes name admin but whose roles do not.
  expectProblem(await t.fetch('/api/admin', apiKey(id.keys.add('scoped', ['customer'], ['admin']))), 403, 'RAMPART_AUTHZ_DENIED');
  assert.equal(shop.writes().length, writes);
});

test('shadow rule: the request passes, an authz.would_deny event and the access log name the rule', async () => {
  const res = await t.fetch('/api/beta', alice());
  assert.equal(res.status, 200, res.text);
  assert.equal(res.json().done, 'GET');
  const line = await accessLine(t, res);
  assert.equal(line.ruleId, 'beta-trial');
  assert.deepEqual(line.authz, { decision: 'would-deny' });
  const ev = await events.of(res, t);
  assert.deepEqual(ev.map((e) => e['event.action']), ['authz.would_deny']);
  assert.equal(ev[0]?.['rule.id'], 'beta-trial');
  assert.equal(ev[0]?.['event.outcome'], 'unknown');
  // A caller the rule allows: no event at all.
  const ok = await t.fetch('/api/beta', root());
  assert.equal(ok.status, 200);
  assert.deepEqual(await events.of(ok, t), []);
});

test('shadow route (authz: { mode: shadow }): the request passes, would_deny names the rule, no denial is reported', async () => {
  const res = await t.fetch('/api/legacy', alice());
  assert.equal(res.status, 200, res.text);
  const ev = await events.of(res, t);
  assert.deepEqual(ev.map((e) => e['event.action']), ['authz.would_deny'], 'a request that passed is not reported as denied');
  assert.equal(ev[0]?.['rule.id'], 'legacy-admin');
  const line = await accessLine(t, res);
  assert.equal(line.ruleId, 'legacy-admin');
  assert.deepEqual(line.authz, { decision: 'would-deny' });
  assert.notEqual(line.decision, 'deny');
  // The response phase of a shadow route: bob's order passes, reported as "would deny".
  const order = await t.fetch('/api/legacy/orders/o-b1', alice());
  assert.equal(order.status, 200, order.text);
  assert.equal(order.json().ownerId, 'bob');
  const oev = await events.of(order, t);
  assert.deepEqual(oev.map((e) => e['event.action']), ['authz.would_deny']);
  assert.equal(oev[0]?.['rule.id'], 'legacy-order-own');
});

test('public rule: anonymous callers are served without credentials; bad credentials are still refused', async () => {
  const anon = await t.fetch('/api/catalog');
  assert.equal(anon.status, 200, anon.text);
  assert.equal((await accessLine(t, anon)).ruleId, 'catalog-browse');
  const res = await t.fetch('/api/catalog', bearer('not.a.token'));
  expectProblem(res, 401, 'RAMPART_AUTHN_TOKEN_INVALID');
  assert.match(String(res.headers['www-authenticate']), /error="invalid_token"/);
  expectProblem(await t.fetch('/api/catalog', alice({ exp: now() - 120, iat: now() - 400 })), 401, 'RAMPART_AUTHN_TOKEN_EXPIRED');
  expectProblem(await t.fetch('/api/catalog', apiKey('rmp_nobody_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx')), 401, 'RAMPART_AUTHN_API_KEY_INVALID');
  // Only the method the public rule names is public.
  const post = await t.fetch('/api/catalog', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expectProblem(post, 401, 'RAMPART_AUTHN_REQUIRED');
  assert.equal(post.headers['www-authenticate'], 'Bearer realm="rampart", ApiKey realm="rampart", header="X-API-Key"');
  expectProblem(await t.fetch('/api/catalog', { ...alice(), method: 'POST', headers: { ...alice().headers, 'content-type': 'application/json' }, body: '{}' }), 403, 'RAMPART_AUTHZ_DENIED');
  // Every other route still needs credentials.
  expectProblem(await t.fetch('/api/orders'), 401, 'RAMPART_AUTHN_REQUIRED');
  expectProblem(await t.fetch('/api/anything'), 401, 'RAMPART_AUTHN_REQUIRED');
});
