/**
 * Method overrides (issue 4 §4, OWASP API5): whatever spelling a framework would honour, a request
 * never reaches the upstream as another method than the one authorized. Headers are dropped by
 * hygiene; `_method` in the query or in a form, multipart or JSON body is refused.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
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
  - { id: things, path: /things, methods: [GET, POST], upstream: echo }
authorization:
  rules: [{ id: open, route: things, public: true }]
`);
});
after(async () => {
  await t?.close();
  await echo?.close();
});

async function refused(path: string, init: { method?: 'GET' | 'POST'; body?: string; type?: string } = {}) {
  const before = echo.received.length;
  const res = await t.fetch(path, { method: init.method ?? 'GET', ...(init.body !== undefined ? { body: init.body, headers: { 'content-type': init.type ?? 'application/x-www-form-urlencoded' } } : {}) });
  assert.equal(res.status, 400, `${path} ${init.body ?? ''}`);
  assert.equal(res.json().code, 'RAMPART_HYGIENE_METHOD_OVERRIDE');
  assert.equal(echo.received.length, before, 'nothing reached the upstream');
}

test('override headers are dropped, never forwarded', async () => {
  const res = await t.fetch('/things', { headers: { 'x-http-method-override': 'DELETE', 'x-method-override': 'DELETE', 'x-http-method': 'DELETE' } });
  assert.equal(res.status, 200);
  const got = echo.received.at(-1);
  assert.equal(got?.method, 'GET');
  for (const h of ['x-http-method-override', 'x-method-override', 'x-http-method']) assert.equal(got?.headers[h], undefined, h);
});

test('_method in the query, under every spelling frameworks decode to it', async () => {
  for (const q of ['_method=DELETE', '_m%65thod=DELETE', '_method[]=DELETE', '_method%5B%5D=DELETE', '%5Fmethod=DELETE', '+_method=DELETE', 'a=1&_METHOD=DELETE']) {
    await refused(`/things?${q}`);
  }
  assert.equal((await t.fetch('/things?method=x&my_method=y')).status, 200, 'other names are fine');
});

test('_method in a form, multipart or JSON body', async () => {
  await refused('/things', { method: 'POST', body: 'a=1&_method=DELETE' });
  await refused('/things', { method: 'POST', body: 'a=1&_method%5B%5D=DELETE' });
  const boundary = 'XyZ';
  const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--${boundary}--\r\n`;
  await refused('/things', { method: 'POST', body: multipart, type: `multipart/form-data; boundary=${boundary}` });
  await refused('/things', { method: 'POST', body: '{"_method":"DELETE","a":1}', type: 'application/json' });
  const ok = await t.fetch('/things', { method: 'POST', body: '{"method":"card","nested":{"_method":"x"}}', headers: { 'content-type': 'application/json' } });
  assert.equal(ok.status, 200, 'only a top-level member overrides');
  assert.equal(echo.received.at(-1)?.body, '{"method":"card","nested":{"_method":"x"}}', 'the same bytes reach the upstream');
});

test('bodies parsers could read two ways are refused; compressed forms cannot be checked', async () => {
  // No content type: Rack reads a form.
  const before = echo.received.length;
  const bare = await t.fetch('/things', { method: 'POST', body: '_method=DELETE' });
  assert.equal(bare.status, 400);
  assert.equal(bare.json().code, 'RAMPART_HYGIENE_METHOD_OVERRIDE');
  await refused('/things', { method: 'POST', body: '.method=DELETE' });
  await refused('/things', { method: 'POST', body: '_method%00x=DELETE' });
  await refused('/things', { method: 'POST', body: '{"_method":"DELETE"}', type: 'text/json' });
  await refused('/things', { method: 'POST', body: '_method=DELETE', type: 'application/x-www-form-urlencoded x' });
  const B = 'XyZ';
  const hidden = `--${B}\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\n--${B}\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE\r\n--${B}--\r\n`;
  const lf = await t.fetch('/things', { method: 'POST', body: hidden, headers: { 'content-type': `multipart/form-data; boundary=${B}` } });
  assert.equal(lf.status, 400);
  assert.equal(lf.json().code, 'RAMPART_HYGIENE_BAD_REQUEST');
  const dup = await t.fetch('/things', { method: 'POST', body: '{"_method":"x","_method":"DELETE"}', headers: { 'content-type': 'application/json' } });
  assert.equal(dup.status, 400);
  assert.equal(dup.json().code, 'RAMPART_BODY_JSON_INVALID');
  const gz = await t.fetch('/things', { method: 'POST', body: 'x', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-encoding': 'gzip' } });
  assert.equal(gz.status, 415);
  assert.equal(echo.received.length, before, 'none of them reached the upstream');
  // Large JSON documents and NDJSON streams still pass on a route without validation.
  const big = JSON.stringify({ items: Array.from({ length: 20_000 }, (_, i) => i), text: 'x'.repeat(200_000) });
  assert.equal((await t.fetch('/things', { method: 'POST', body: big, headers: { 'content-type': 'application/json' } })).status, 200);
  assert.equal((await t.fetch('/things', { method: 'POST', body: '{"a":1}\n{"b":2}\n', headers: { 'content-type': 'application/x-ndjson' } })).status, 200);
});
