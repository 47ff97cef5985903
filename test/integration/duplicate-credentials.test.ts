/**
 * Two Authorization headers (RFC 6750 §2: one credential per request): Node keeps the first and
 * drops the other, so a proxy in front could have authorized with the other one. Refused before
 * any credential is examined.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';

let echo: EchoServer;
let t: TestGateway;

before(async () => {
  echo = await startEcho();
  t = await startTestGateway(`
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - { id: echo, targets: [{ url: ${echo.url} }], retries: { attempts: 0 } }
routes:
  - { id: open, path: /open, methods: [GET], upstream: echo }
authorization:
  rules: [{ id: open, route: open, methods: [GET], public: true }]
`);
});
after(async () => {
  await t?.close();
  await echo?.close();
});

// HTTP/1.1 here: Node's and undici's HTTP/2 clients refuse or join a repeated Authorization before
// sending it. Over HTTP/2 the check reads the same raw header list (checked with curl --http2).
for (const h2 of [false]) {
  test('two Authorization headers → 400 invalid_request (HTTP/1.1)', async () => {
    const before = echo.received.length;
    const res = await request(`${t.origin()}/open`, { dispatcher: await t.agent({ h2 }), headers: ['authorization', 'Bearer a.b.c', 'authorization', 'Bearer d.e.f'] });
    const body = (await res.body.json()) as { code: string };
    assert.equal(res.statusCode, 400);
    assert.equal(body.code, 'RAMPART_AUTHN_BAD_REQUEST');
    assert.match(String(res.headers['www-authenticate']), /error="invalid_request"/);
    assert.equal(echo.received.length, before);
    const one = await request(`${t.origin()}/open`, { dispatcher: await t.agent({ h2 }) });
    assert.equal(one.statusCode, 200);
    await one.body.dump();
  });
}
