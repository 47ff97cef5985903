/**
 * Input validation and the response contract through the real gateway: real TLS, a real echo
 * upstream for requests, a real upstream that leaks fields for responses (issue 6).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { onSecurityEvent, type SecurityEvent } from '../../src/observe/events.ts';
import { seedUsers } from '../../examples/demo/services/users.ts';
import { checkConfig } from '../../src/cli/check.ts';
import { formatProblem } from '../../src/config/load.ts';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/validation/${name}`, import.meta.url), 'utf8');
const attacks = JSON.parse(fixture('attacks.json')) as {
  strings: Array<{ rule: string; value: string; format?: string }>;
  bodies: Array<{ name: string; body?: string; repeat?: { open: string; times: number }; array?: { item: string; times: number }; code: string; rule: string }>;
};
const legitimate = JSON.parse(fixture('legitimate.json')) as { strings: Array<{ value: string; format?: string }> };

let echo: EchoServer;
let leaky: { url: string; close(): Promise<void> };
let t: TestGateway;
const events: SecurityEvent[] = [];
let offEvents: () => void;

/** An upstream that answers what its document does not declare (a password hash, internal notes). */
async function startLeaky(): Promise<{ url: string; close(): Promise<void> }> {
  const users = seedUsers();
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const user = users.get(url.split('/')[2] ?? '');
    if (url.startsWith('/users/') && user) {
      const body = JSON.stringify({ ...user, password: 'hunter2', address: { street: '1 Main St', city: 'Springfield', geo: 'internal-grid-7' } });
      const gz = url.endsWith('/gzip') || req.headers['accept-encoding'] === 'gzip';
      res.writeHead(200, { 'content-type': 'application/json', ...(gz ? { 'content-encoding': 'gzip' } : {}), etag: '"v1"' });
      res.end(gz ? gzipSync(body) : body);
      return;
    }
    if (url.startsWith('/items')) {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>not json</html>');
      return;
    }
    res.writeHead(418, { 'content-type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

const config = (echoUrl: string, leakyUrl: string) => `
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - id: shop
    targets: [{ url: ${echoUrl} }]
    retries: { attempts: 0 }
    openapi: { document: shop.yaml, basePath: /api }
    defaults:
      validation: { responseContract: shadow }
  - id: shop-strip
    targets: [{ url: ${echoUrl} }]
    openapi: { document: shop.yaml, basePath: /strip }
    defaults:
      validation: { responseContract: shadow }
  - id: shop-shadow
    targets: [{ url: ${echoUrl} }]
    openapi: { document: shop.yaml, basePath: /shadow }
    defaults:
      validation: { responseContract: shadow }
  - id: leaky
    targets: [{ url: ${leakyUrl} }]
    retries: { attempts: 0 }
    openapi: { document: shop.yaml, basePath: /leaky }
  - id: leaky-strict
    targets: [{ url: ${leakyUrl} }]
    retries: { attempts: 0 }
    openapi: { document: shop.yaml, basePath: /strict }
defaults:
  hygiene: { maxBodyBytes: 262144 }
  validation:
    limits: { maxDepth: 16, maxArrayLength: 1000 }
routes:
  - { id: api, path: "/api/*", upstream: shop, stripPrefix: /api }
  - { id: strip, path: "/strip/*", upstream: shop-strip, stripPrefix: /strip, validation: { unknownProperties: strip } }
  - { id: shadow, path: "/shadow/*", upstream: shop-shadow, stripPrefix: /shadow, validation: { injection: { mode: shadow } } }
  - { id: filter, path: "/leaky/*", upstream: leaky, stripPrefix: /leaky }
  - { id: enforce, path: "/strict/*", upstream: leaky-strict, stripPrefix: /strict, validation: { responseContract: enforce } }
`;

before(async () => {
  echo = await startEcho();
  leaky = await startLeaky();
  offEvents = onSecurityEvent((e) => events.push(e));
  t = await startTestGateway(config(echo.url, leaky.url), { files: { 'shop.yaml': fixture('shop.yaml') } });
});
after(async () => {
  offEvents?.();
  await t?.close();
  await echo?.close();
  await leaky?.close();
});

const json = (body: unknown, headers: Record<string, string> = {}) => ({ body: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
const lastReceived = () => echo.received[echo.received.length - 1];

test('an operation missing from the document is refused (404), an undocumented method gets 405 with Allow', async () => {
  const r = await t.fetch('/api/nowhere');
  assert.equal(r.status, 404);
  assert.equal(r.json().code, 'RAMPART_VALIDATION_OPERATION_UNKNOWN');
  const m = await t.fetch('/api/orders', { method: 'GET' });
  assert.equal(m.status, 405);
  assert.equal(m.json().code, 'RAMPART_VALIDATION_METHOD_UNKNOWN');
  assert.equal(m.headers.allow, 'POST');
  assert.ok(events.some((e) => e['event.action'] === 'validation.operation_unknown' && e['rampart.route'] === 'api'));
});

test('path parameters: simple, multi-parameter segments and label style', async () => {
  assert.equal((await t.fetch('/api/users/alice')).status, 200);
  const bad = await t.fetch('/api/users/Alice');
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.json().errors, [{ in: 'path', parameter: 'id', pointer: '', rule: 'pattern' }]);
  assert.equal((await t.fetch('/api/items/BOOK-001.csv')).status, 200);
  assert.deepEqual((await t.fetch('/api/items/BOOK-001.pdf')).json().errors, [{ in: 'path', parameter: 'format', pointer: '', rule: 'enum' }]);
  assert.equal((await t.fetch('/api/tags/.red,blue')).status, 200);
  assert.equal((await t.fetch('/api/tags/red,blue')).json().errors[0].rule, 'style');
  assert.equal((await t.fetch('/api/tags/.red,Blue')).json().errors[0].pointer, '/1');
});

test('query parameters: form (explode and not), spaceDelimited, pipeDelimited, deepObject, JSON content', async () => {
  const ok = await t.fetch('/api/items?tag=a&tag=b&ids=1,2,3&coords=1.5%202&cols=name|sku&filter[color]=red&filter[size]=3&limit=10&where=%7B%22price%22%3A2%7D');
  assert.equal(ok.status, 200, ok.text);
  const cases: Array<[string, Record<string, unknown>]> = [
    ['/api/items?ids=1,x', { in: 'query', parameter: 'ids', pointer: '/1', rule: 'type' }],
    ['/api/items?ids=1,0', { in: 'query', parameter: 'ids', pointer: '/1', rule: 'minimum' }],
    ['/api/items?coords=1%202%203', { in: 'query', parameter: 'coords', pointer: '', rule: 'maxItems' }],
    ['/api/items?cols=name|secret', { in: 'query', parameter: 'cols', pointer: '/1', rule: 'enum' }],
    ['/api/items?filter[size]=11', { in: 'query', parameter: 'filter', pointer: '/size', rule: 'maximum' }],
    ['/api/items?filter[owner]=x', { in: 'query', parameter: 'filter', pointer: '/owner', rule: 'unknownProperty' }],
    ['/api/items?filter[a][b]=x', { in: 'query', parameter: 'filter', rule: 'style' }],
    ['/api/items?limit=1000', { in: 'query', parameter: 'limit', pointer: '', rule: 'maximum' }],
    ['/api/items?limit=1&limit=2', { in: 'query', parameter: 'limit', rule: 'multipleValues' }],
    ['/api/items?where=%7B%22price%22%3A%22x%22%7D', { in: 'query', parameter: 'where', pointer: '/price', rule: 'type' }],
    ['/api/items?where=%7Bnope', { in: 'query', parameter: 'where', rule: 'json' }],
    ['/api/items?debug=1', { in: 'query', parameter: 'debug', rule: 'unknownParameter' }],
    ['/api/items?q=%E0%A4%A', { in: 'query', rule: 'encoding' }],
  ];
  for (const [url, error] of cases) {
    const r = await t.fetch(url);
    assert.equal(r.status, 400, url);
    assert.equal(r.json().code, 'RAMPART_VALIDATION_PARAMETER_INVALID');
    assert.deepEqual(r.json().errors[0], error, url);
  }
});

test('header and cookie parameters', async () => {
  assert.equal((await t.fetch('/api/items', { headers: { 'x-priority': '3', 'x-tags': 'a, b', cookie: 'other=1; lang=fr' } })).status, 200);
  assert.deepEqual((await t.fetch('/api/items', { headers: { 'x-priority': '9' } })).json().errors, [{ in: 'header', parameter: 'x-priority', pointer: '', rule: 'maximum' }]);
  assert.deepEqual((await t.fetch('/api/items', { headers: { 'x-tags': 'a,b,c,d' } })).json().errors, [{ in: 'header', parameter: 'x-tags', pointer: '', rule: 'maxItems' }]);
  assert.deepEqual((await t.fetch('/api/items', { headers: { cookie: 'lang=xx' } })).json().errors, [{ in: 'cookie', parameter: 'lang', pointer: '', rule: 'enum' }]);
});

test('content types are allowlisted (415); a charset other than UTF-8 and a Content-Encoding are refused (S10)', async () => {
  const order = { items: [{ sku: 'BOOK-001', quantity: 1 }] };
  assert.equal((await t.fetch('/api/orders', { method: 'POST', ...json(order) })).status, 200);
  const form = await t.fetch('/api/orders', { method: 'POST', body: 'items=1', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  assert.equal(form.status, 415);
  assert.equal(form.json().code, 'RAMPART_VALIDATION_CONTENT_TYPE_UNSUPPORTED');
  assert.equal((await t.fetch('/api/orders', { method: 'POST', body: JSON.stringify(order) })).status, 415, 'no content type');
  assert.equal((await t.fetch('/api/orders', { method: 'POST', ...json(order, { 'content-type': 'application/json; charset=iso-8859-1' }) })).status, 415);
  const gz = await t.fetch('/api/orders', { method: 'POST', body: gzipSync(JSON.stringify(order)), headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
  assert.equal(gz.status, 415);
  assert.equal(gz.json().code, 'RAMPART_BODY_ENCODING_UNSUPPORTED');
  assert.equal(gz.headers['accept-encoding'], 'identity');
  assert.equal((await t.fetch('/api/users/alice', { method: 'PATCH', ...json({ name: 'A' }, { 'content-type': 'application/merge-patch+json' }) })).status, 200);
  const bodyOnGet = await t.fetch('/api/users/alice', { method: 'GET', body: '{"x":1}', headers: { 'content-type': 'application/json' } });
  assert.equal(bodyOnGet.status, 415);
});

test('the body: each violation with its JSON pointer and rule, never the value; at most 20', async () => {
  const items = [{ sku: 'BOOK-001', quantity: 1 }, { sku: 'PEN-002', quantity: 2 }, { sku: 'MUG-003', quantity: 3 }, { sku: 'TEE-004', quantity: 100 }];
  const r = await t.fetch('/api/orders', { method: 'POST', ...json({ items }) });
  assert.equal(r.status, 422);
  const p = r.json();
  assert.equal(p.code, 'RAMPART_VALIDATION_BODY_INVALID');
  assert.equal(r.headers['content-type'], 'application/problem+json');
  assert.deepEqual(p.errors, [{ in: 'body', pointer: '/items/3/quantity', rule: 'maximum' }]);
  const xss = await t.fetch('/api/orders', { method: 'POST', ...json({ items: [{ sku: '<script>alert(1)</script>', quantity: 1 }] }) });
  assert.equal(xss.status, 400, 'unsafe input is reported before the schema violation');
  assert.deepEqual(xss.json().errors, [{ in: 'body', pointer: '/items/0/sku', rule: 'xss' }]);
  assert.ok(!xss.text.includes('alert') && !xss.text.includes('<'), 'the offending value is never echoed');
  const many = await t.fetch('/api/orders', { method: 'POST', ...json({ items: Array.from({ length: 40 }, () => ({ sku: 'x', quantity: 0 })) }) });
  assert.equal(many.json().errors.length, 20);
  const missing = await t.fetch('/api/orders', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '' });
  assert.deepEqual(missing.json().errors, [{ in: 'body', pointer: '', rule: 'required' }]);
});

test('mass assignment: undeclared properties refused by default, stripped with unknownProperties: strip; readOnly refused', async () => {
  const r = await t.fetch('/api/users/alice', { method: 'PATCH', ...json({ name: 'Alice', isAdmin: true, address: { city: 'Paris', geo: 'x' } }) });
  assert.equal(r.status, 422);
  assert.deepEqual(new Set(r.json().errors.map((e: { pointer: string }) => e.pointer)), new Set(['/isAdmin', '/address/geo']));
  const before = echo.received.length;
  const s = await t.fetch('/strip/users/alice', { method: 'PATCH', ...json({ name: 'Alice', isAdmin: true, address: { city: 'Paris', geo: 'x' } }) });
  assert.equal(s.status, 200, s.text);
  assert.equal(echo.received.length, before + 1);
  assert.deepEqual(JSON.parse(lastReceived()!.body), { name: 'Alice', address: { city: 'Paris' } }, 'the upstream gets the stripped body (S11)');
  assert.equal(lastReceived()!.headers['content-length'], String(Buffer.byteLength(lastReceived()!.body)));
  const ro = await t.fetch('/api/users/alice', { method: 'PATCH', ...json({ id: 'mallory', name: 'A' }) });
  assert.deepEqual(ro.json().errors, [{ in: 'body', pointer: '/id', rule: 'readOnly' }]);
});

test('composed schemas keep working: allOf and oneOf with unevaluatedProperties', async () => {
  assert.equal((await t.fetch('/api/pets', { method: 'POST', ...json({ name: 'Rex', kind: 'dog' }) })).status, 200);
  assert.deepEqual((await t.fetch('/api/pets', { method: 'POST', ...json({ name: 'Rex', kind: 'dog', owner: 'x' }) })).json().errors, [{ in: 'body', pointer: '/owner', rule: 'unknownProperty' }]);
  assert.equal((await t.fetch('/api/profiles', { method: 'POST', ...json({ contact: { phone: '+33123456789' }, metadata: { any: { thing: 1 } } }) })).status, 200);
  const extra = await t.fetch('/api/profiles', { method: 'POST', ...json({ contact: { phone: '+33123456789', admin: true } }) });
  assert.equal(extra.status, 422);
});

test('strings are normalised to NFC before they are checked and sent', async () => {
  const r = await t.fetch('/api/users/alice', { method: 'PATCH', ...json({ name: 'Zoe\u0301' }) });
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(lastReceived()!.body).name, 'Zo\u00e9');
});

test('attack corpus: every string payload is refused in a field of its format, in the body and in the query', async () => {
  for (const a of attacks.strings) {
    const field = a.format === 'uri' ? 'callbackUrl' : 'note';
    // note is markdown (no XSS/command checks): plain-string payloads go in the user name instead.
    const body = a.format === 'uri' ? { items: [{ sku: 'BOOK-001', quantity: 1 }], [field]: a.value } : { name: a.value };
    const url = a.format === 'uri' ? '/api/orders' : '/api/echo';
    const r = await t.fetch(url, { method: 'POST', ...json(body) });
    assert.equal(r.status, 400, `${a.rule} ${JSON.stringify(a.value)} → ${r.status} ${r.text}`);
    assert.equal(r.json().code, 'RAMPART_VALIDATION_UNSAFE_INPUT');
    assert.equal(r.json().errors[0].rule, a.rule, JSON.stringify(a.value));
    assert.ok(!r.text.includes(a.value), 'never echoed');
    if (a.format === undefined) {
      const q = await t.fetch(`/api/items?q=${encodeURIComponent(a.value)}`);
      assert.equal(q.status, 400, `query ${JSON.stringify(a.value)}`);
      assert.equal(q.json().errors[0].in, 'query');
    }
  }
});

test('attack corpus: hostile bodies are refused with their code and rule', async () => {
  for (const a of attacks.bodies) {
    const body = a.body ?? (a.repeat ? a.repeat.open.repeat(a.repeat.times) : `[${Array(a.array!.times).fill(a.array!.item).join(',')}]`);
    const target = a.name === 'readOnly property' || a.name === 'mass assignment' ? '/api/users/alice' : '/api/echo';
    const r = await t.fetch(target, { method: target === '/api/echo' ? 'POST' : 'PATCH', body, headers: { 'content-type': 'application/json' } });
    assert.equal(r.json().code, a.code, `${a.name}: ${r.text}`);
    assert.equal(r.json().errors[0].rule, a.rule, a.name);
  }
});

test('legitimate corpus: names, prices, markdown with code and international text pass, unchanged', async () => {
  for (const l of legitimate.strings) {
    const body = l.format === 'uri' ? { items: [{ sku: 'BOOK-001', quantity: 1 }], callbackUrl: l.value } : l.format === 'markdown' ? { items: [{ sku: 'BOOK-001', quantity: 1 }], note: l.value } : l.format === 'password' ? { name: 'x', password: l.value } : { name: l.value };
    const url = l.format === 'uri' || l.format === 'markdown' ? '/api/orders' : '/api/users/alice';
    const r = await t.fetch(url, { method: url === '/api/orders' ? 'POST' : 'PATCH', ...json(body) });
    assert.equal(r.status, 200, `${JSON.stringify(l.value)} → ${r.text}`);
    assert.deepEqual(JSON.parse(lastReceived()!.body), body);
    if (!l.format) assert.equal((await t.fetch(`/api/items?q=${encodeURIComponent(l.value)}`)).status, 200, `query ${JSON.stringify(l.value)}`);
  }
});

test('injection.mode: shadow lets the request through, logs and publishes the event', async () => {
  const r = await t.fetch('/shadow/echo', { method: 'POST', ...json({ name: "' OR '1'='1" }) });
  assert.equal(r.status, 200);
  assert.ok(events.some((e) => e['event.action'] === 'validation.unsafe_input' && e['rampart.mode'] === 'shadow' && e['rule.id'] === 'sqli'));
  assert.ok(!t.rawLogs().includes("' OR '1'='1"), 'the payload is not logged');
});

test('responseContract: filter removes undeclared and writeOnly properties from a leaking upstream', async () => {
  const r = await t.fetch('/leaky/users/alice');
  assert.equal(r.status, 200, r.text);
  const user = r.json();
  assert.deepEqual(Object.keys(user).sort(), ['address', 'email', 'id', 'name']);
  assert.deepEqual(user.address, { street: '1 Main St', city: 'Springfield' });
  for (const leak of ['passwordHash', 'internalNotes', 'hunter2', 'internal-grid-7', 'VIP since']) assert.ok(!r.text.includes(leak), leak);
  assert.equal(r.headers['content-length'], String(Buffer.byteLength(r.text)));
  assert.equal(r.headers.etag, undefined, 'a changed body drops the upstream ETag');
  const z = await t.fetch('/leaky/users/bob', { headers: { 'accept-encoding': 'gzip' } });
  assert.equal(z.status, 200);
  assert.equal(z.headers['content-encoding'], undefined);
  assert.ok(!z.text.includes('passwordHash') && z.json().name === 'Bob Builder');
  const ev = events.find((e) => e['event.action'] === 'validation.response_filtered');
  assert.ok(ev && /\/passwordHash/.test(ev['event.reason'] ?? ''));
  const line = t.logs.find((l) => l.log === 'access' && l.route === 'filter');
  assert.equal(line?.responseFiltered, 6, 'passwordHash, internalNotes, roles, createdAt, password (writeOnly), address/geo');
});

test('responseContract: an undocumented content type or status is refused (502) even in filter mode; enforce refuses leaks', async () => {
  const html = await t.fetch('/leaky/items');
  assert.equal(html.status, 502);
  assert.equal(html.json().code, 'RAMPART_VALIDATION_RESPONSE_INVALID');
  assert.ok(!html.text.includes('not json'));
  const strict = await t.fetch('/strict/users/alice');
  assert.equal(strict.status, 502);
  assert.ok(!strict.text.includes('passwordHash'));
  assert.ok(events.some((e) => e['event.action'] === 'validation.response_invalid' && e['rampart.route'] === 'enforce'));
});

test('responseContract: shadow passes the response unchanged and says so', async () => {
  const r = await t.fetch('/api/users/alice');
  assert.equal(r.status, 200);
  assert.ok(r.json().method === 'GET', 'the echo body passed unchanged');
  assert.ok(events.some((e) => e['event.action'] === 'validation.response_invalid' && e['rampart.mode'] === 'shadow'));
});

test('a broken OpenAPI document stops the start with its file, line and JSON pointer; a reload with one is refused', async () => {
  const broken = fixture('shop.yaml').replace("schema: { $ref: '#/components/schemas/NewOrder' }", "schema: { $ref: '#/components/schemas/NoSuchOrder' }");
  const yaml = `
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - { id: shop, targets: [{ url: ${echo.url} }], openapi: { document: shop.yaml, basePath: /api } }
defaults:
  validation: { responseContract: shadow }
routes:
  - { id: api, path: "/api/*", upstream: shop, stripPrefix: /api }
`;
  await assert.rejects(startTestGateway(yaml, { files: { 'shop.yaml': broken } }), (e: Error) => {
    assert.equal(e.name, 'ConfigError');
    assert.match(e.message, /shop\.yaml:\d+:\d+: #\/paths\/~1orders\/post\/requestBody\/content\/application~1json\/schema\/\$ref: unresolved reference "#\/components\/schemas\/NoSuchOrder"/);
    return true;
  });
  const g = await startTestGateway(yaml, { files: { 'shop.yaml': fixture('shop.yaml') } });
  try {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(`${g.dir}/shop.yaml`, broken);
    const r = await g.gw.reload();
    assert.equal(r.ok, false);
    assert.ok(r.problems.some((p) => p.file.endsWith('shop.yaml') && p.path.startsWith('#/paths/~1orders')));
    const order = await g.fetch('/api/orders', { method: 'POST', ...json({ items: [{ sku: 'BOOK-001', quantity: 1 }] }) });
    assert.equal(order.status, 200, 'the previous, complete document keeps validating');
    assert.equal((await g.fetch('/api/orders', { method: 'POST', ...json({ items: [], x: 1 }) })).status, 422);
    // rampart check names the document's problem the same way.
    const checked = await checkConfig(g.configFile);
    assert.equal(checked.ok, false);
    assert.ok(checked.problems.map(formatProblem).some((l) => /shop\.yaml:\d+:\d+: #\/paths\/~1orders\/post\/requestBody\/content\/application~1json\/schema\/\$ref: unresolved reference/.test(l)), checked.problems.map(formatProblem).join('\n'));
  } finally {
    await g.close();
  }
});

test('validation.mode: shadow logs what it would refuse and lets the request through', async () => {
  const g = await startTestGateway(`
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - { id: shop, targets: [{ url: ${echo.url} }], openapi: { document: shop.yaml, basePath: /api } }
defaults:
  validation: { mode: shadow, responseContract: shadow }
routes:
  - { id: api, path: "/api/*", upstream: shop, stripPrefix: /api }
`, { files: { 'shop.yaml': fixture('shop.yaml') } });
  try {
    const r = await g.fetch('/api/orders', { method: 'POST', ...json({ items: [{ sku: 'BOOK-001', quantity: 100 }] }) });
    assert.equal(r.status, 200);
    assert.ok(g.logs.some((l) => l.msg === 'shadow mode: would deny' && l.code === 'RAMPART_VALIDATION_BODY_INVALID'));
    assert.ok(g.logs.some((l) => String(l.config ?? '').includes('validation.mode: shadow') || l.msg === 'validation.mode: shadow — invalid requests are logged, not refused'), 'the relaxation is warned at start-up');
  } finally {
    await g.close();
  }
});
