/**
 * Ownership by lookup (issue 4 §3, OWASP API1 for writes): before a change or a delete reaches the
 * upstream, the gateway fetches the object from that upstream with the caller's identity and lets
 * the change through only when the object is the caller's. The upstream here checks nothing: every
 * refusal below is the gateway's.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { makeKey, accessToken, now, TestBuiltinIssuer } from '../../src/stages/authn/testing.ts';

const BUILTIN = 'https://localhost:8443/auth';
const API = 'https://api.test';

interface Seen { method: string; url: string; identity: boolean }
let server: http.Server;
let seen: Seen[] = [];
const orders = new Map<string, unknown>([
  ['o-1', { id: 'o-1', ownerId: 'alice' }],
  ['o-2', { id: 'o-2', ownerId: 'bob' }],
  ['o-3', { id: 'o-3' }],
  ['o-num', { id: 'o-num', ownerId: 42 }],
]);
let t: TestGateway;
const key = makeKey('ES256', 'builtin-1');
const builtin = new TestBuiltinIssuer(BUILTIN, [API], [key]);

before(async () => {
  // A vulnerable orders service: answers and changes any order for anyone.
  server = http.createServer((req, res) => {
    // Like the demo services: nothing, /health included, without the gateway's identity.
    if (typeof req.headers['rampart-identity'] !== 'string') {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    seen.push({ method: req.method ?? '', url: req.url ?? '', identity: typeof req.headers['rampart-identity'] === 'string' });
    const id = decodeURIComponent((req.url ?? '').split('/')[2] ?? '');
    if (id === 'o-slow') {
      setTimeout(() => res.writeHead(200, { 'content-type': 'application/json' }).end('{"ownerId":"alice"}'), 1500);
      return;
    }
    if (id === 'o-hidden') {
      res.writeHead(403, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (id === 'o-text') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('owner: alice');
      return;
    }
    if (id === 'o-boom') {
      res.writeHead(500, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const o = orders.get(id);
    if (!o) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"title":"no such order"}');
      return;
    }
    req.resume();
    req.on('end', () => {
      if (req.method === 'DELETE') res.writeHead(204).end();
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(o));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  t = await startTestGateway(`
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - id: orders
    targets: [{ url: "http://127.0.0.1:${port}" }]
    retries: { attempts: 0 }
    health: { active: { path: /health, intervalMs: 200, unhealthyThreshold: 1 }, passive: { unhealthyThreshold: 3, ejectMs: 10000 } }
authentication:
  accountCacheSeconds: 0
routes:
  - { id: order, path: "/api/orders/{id}", methods: [GET, PUT, DELETE], upstream: orders, stripPrefix: /api }
authorization:
  permissions: { orders:write: {}, orders:manage: {} }
  roles:
    customer: { permissions: [orders:write] }
    admin: { inherits: [customer], permissions: [orders:manage] }
  rules:
    - id: change-own
      route: order
      methods: [PUT, DELETE]
      permissions: [orders:write]
      ownership: { lookup: { path: "/orders/{id}", field: ownerId } }
    - { id: change-any, route: order, methods: [PUT, DELETE], permissions: [orders:manage] }
    - { id: read, route: order, methods: [GET], permissions: [orders:write] }
`, { authn: { builtin } });
  const at = now();
  for (const [id, roles] of [['alice', ['customer']], ['bob', ['customer']], ['admin', ['admin']], ['42', ['customer']]] as const) {
    await t.gw.store.users.create({ id, username: id, passwordHash: '$scrypt$x', mustChangePassword: false, roles: [...roles], recoveryCodeHashes: [], disabled: false, createdAt: at, updatedAt: at });
  }
});
after(async () => {
  await t?.close();
  await new Promise((r) => server.close(r));
});

const token = (sub: string, scope = 'orders:write orders:manage') =>
  accessToken(key, { iss: BUILTIN, aud: API, sub, client_id: 'web', scope, auth_time: now() - 5, amr: ['pwd', 'otp'], grant_id: `g-${sub}` });

async function call(method: 'PUT' | 'DELETE', id: string, sub: string) {
  seen = [];
  const res = await t.fetch(`/api/orders/${id}`, { method, headers: { authorization: `Bearer ${token(sub)}`, 'content-type': 'application/json' }, ...(method === 'PUT' ? { body: '{"items":[]}' } : {}) });
  return { status: res.status, code: res.status >= 400 ? res.json().code : undefined, seen: [...seen] };
}

test('the owner changes and deletes their own order: one lookup with their identity, then the change', async () => {
  const r = await call('PUT', 'o-1', 'alice');
  assert.equal(r.status, 200);
  assert.deepEqual(r.seen.map((s) => `${s.method} ${s.url} ${s.identity}`), ['GET /orders/o-1 true', 'PUT /orders/o-1 true']);
  const d = await call('DELETE', 'o-1', 'alice');
  assert.equal(d.status, 204);
});

test('BOLA: alice changes or deletes bob\'s order → 404, and the change never reaches the service', async () => {
  for (const method of ['PUT', 'DELETE'] as const) {
    const r = await call(method, 'o-2', 'alice');
    assert.equal(r.status, 404);
    assert.equal(r.code, 'RAMPART_AUTHZ_NOT_FOUND');
    assert.deepEqual(r.seen.map((s) => s.method), ['GET'], 'only the lookup reached the service');
  }
  const line = t.logs.findLast((l) => l.route === 'order' && l.status === 404);
  assert.equal(line?.ruleId, 'change-own');
});

test('a missing order is 404 like a foreign one (no id enumeration)', async () => {
  const r = await call('DELETE', 'o-nope', 'alice');
  assert.equal(r.status, 404);
  assert.equal(r.code, 'RAMPART_AUTHZ_NOT_FOUND');
});

test('an answer that cannot be checked refuses the change (502), never forwards it', async () => {
  for (const id of ['o-3', 'o-text', 'o-boom']) {
    const r = await call('DELETE', id, 'alice');
    assert.equal(r.status, 502, id);
    assert.equal(r.code, 'RAMPART_AUTHZ_RESPONSE_UNVERIFIED', id);
    assert.deepEqual(r.seen.map((s) => s.method), ['GET'], id);
  }
});

test('a numeric owner equals its decimal text; an admin rule without lookup acts on any order', async () => {
  assert.equal((await call('DELETE', 'o-num', '42')).status, 204);
  const a = await call('DELETE', 'o-2', 'admin');
  assert.equal(a.status, 204);
  assert.deepEqual(a.seen.map((s) => s.method), ['DELETE'], 'the rule without an obligation wins: no lookup');
});

test('a service that will not show the object (401/403) is answered like a missing one: 404', async () => {
  const r = await call('DELETE', 'o-hidden', 'alice');
  assert.equal(r.status, 404);
  assert.equal(r.code, 'RAMPART_AUTHZ_NOT_FOUND');
});

test('health probes carry the gateway identity although the lookup route compiles first; a client that hangs up mid-lookup ejects nothing', async () => {
  // The route with the lookup is the only route: its runtime is the one the health checks use.
  await new Promise((r) => setTimeout(r, 700));
  assert.equal((await call('DELETE', 'o-1', 'alice')).status !== 503, true, 'the target is not marked down by 401s to identity-less probes');
  for (let i = 0; i < 3; i++) {
    const ac = new AbortController();
    const pending = t.fetch('/api/orders/o-slow', { method: 'DELETE', headers: { authorization: `Bearer ${token('alice')}` }, signal: ac.signal }).catch(() => undefined);
    setTimeout(() => ac.abort(), 100);
    await pending;
  }
  const after = await t.fetch('/api/orders/o-1', { headers: { authorization: `Bearer ${token('alice')}` } });
  assert.equal(after.status, 200, 'no ejection, no open circuit: the next caller is served');
});
