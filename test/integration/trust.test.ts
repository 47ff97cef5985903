/**
 * Who the client is and where it meant to go: client IP behind trusted proxies (S5), :authority vs
 * Host (S11), and the admin listener's Host check against DNS rebinding (S12).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { rawRequest } from '../helpers/raw.ts';

let echo: EchoServer;
let t: TestGateway;

before(async () => {
  echo = await startEcho();
  t = await startTestGateway(`
trustedProxies: ["127.0.0.1", "10.0.0.0/8"]
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
  - { name: admin, port: 0, protocol: https, admin: true, tls: { dev: true } }
upstreams:
  - { id: echo, targets: [{ url: ${echo.url} }] }
routes:
  - { id: echo, path: /echo, upstream: echo }
  - { id: only-local, path: /local, upstream: echo, ip-filter: { allow: ["127.0.0.0/8"] } }
`);
});
after(async () => {
  await t?.close();
  await echo?.close();
});

test('S5: behind a trusted proxy the client IP is the rightmost untrusted hop', async () => {
  const res = await t.fetch('/echo', { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.9, 10.1.2.3', 'x-request-id': 's5-test' } });
  const seen = res.json();
  assert.equal(seen.headers['x-forwarded-for'], '198.51.100.9, 10.1.2.3, 127.0.0.1');
  await new Promise((r) => setTimeout(r, 30));
  const line = t.logs.find((l) => l.requestId === 's5-test' && l.log === 'access');
  assert.equal(line?.clientIp, '198.51.100.9');
});

test('S5: ip-filter judges the resolved client IP, not the proxy', async () => {
  assert.equal((await t.fetch('/local')).status, 200);
  const res = await t.fetch('/local', { headers: { 'x-forwarded-for': '198.51.100.9' } });
  assert.equal(res.status, 403);
  const forged = await t.fetch('/local', { headers: { 'x-forwarded-for': 'not-an-ip' } });
  assert.equal(forged.status, 403, 'an unidentifiable client is refused by a filter');
});

test('S11: an HTTP/2 request whose Host disagrees with :authority is refused', async () => {
  const session = http2.connect(t.origin(), { ca: await t.ca() });
  const status = await new Promise<number>((resolve, reject) => {
    const s = session.request({ ':path': '/echo', ':authority': `localhost:${t.port()}`, host: 'evil.example' });
    s.on('response', (h) => resolve(Number(h[':status'])));
    s.on('error', reject);
    s.resume();
  });
  session.close();
  assert.equal(status, 400);
});

test('S12: the admin listener answers only loopback host names (DNS rebinding)', async () => {
  const good = await t.fetch('/anything', { listener: 'admin' });
  assert.equal(good.status, 404, 'localhost is served (no admin routes yet)');
  // A rebinding page's request arrives over a connection to 127.0.0.1 carrying its own Host.
  const rebinding = await rawRequest(t.port('admin'), 'GET /anything HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\n\r\n', { ca: await t.ca() });
  assert.equal(rebinding.status, 421);
  assert.equal(JSON.parse(rebinding.body).code, 'RAMPART_HYGIENE_HOST_NOT_ALLOWED');
  const routes = await t.fetch('/echo', { listener: 'admin' });
  assert.equal(routes.status, 404, 'routes are not served on the admin listener');
});

test('S5: only the configured forwarding header is read; a client-supplied Forwarded is ignored', async () => {
  const res = await t.fetch('/local', { headers: { 'x-forwarded-for': '198.51.100.9', forwarded: 'for=127.0.0.9' } });
  assert.equal(res.status, 403, 'a forged Forwarded next to the real X-Forwarded-For cannot pass the filter');
});

test('header names with underscores and method overrides never reach the upstream', async () => {
  const res = await t.fetch('/echo', { headers: { rampart_identity: 'forged', x_forwarded_for: '1.2.3.4', 'x-http-method-override': 'DELETE', 'x-method-override': 'DELETE' } });
  const seen = res.json().headers;
  for (const h of ['rampart_identity', 'x_forwarded_for', 'x-http-method-override', 'x-method-override']) assert.equal(seen[h], undefined, h);
});

test('a listener with a publicOrigin refuses other Host values (host-header poisoning)', async () => {
  const { startTestGateway: start } = await import('../helpers/gateway.ts');
  const g = await start(`
listeners:
  - { name: public, port: 0, protocol: https, publicOrigin: "https://api.example.com", tls: { dev: true } }
upstreams:
  - { id: echo, targets: [{ url: ${echo.url} }] }
routes:
  - { id: echo, path: /echo, methods: [GET], upstream: echo }
`);
  try {
    const ca = await g.ca();
    const evil = await rawRequest(g.port(), 'GET /echo HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n', { ca });
    assert.equal(evil.status, 421);
    const ok = await rawRequest(g.port(), 'GET /echo HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n', { ca });
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).headers['x-forwarded-host'], 'api.example.com');
    const loop = await rawRequest(g.port(), 'GET /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', { ca });
    assert.equal(loop.status, 200, 'dev mode also answers loopback names');
  } finally {
    await g.close();
  }
});
