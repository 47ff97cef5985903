/**
 * The gateway end to end: real TLS, real upstreams on loopback, real clients.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { rawRequest } from '../helpers/raw.ts';

let echo: EchoServer;
let t: TestGateway;

const config = (upstream: string, extra = '') => `
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
  - { name: redirect, port: 0, protocol: http, redirectTo: "https://localhost:8443" }
upstreams:
  - id: echo
    targets: [{ url: ${upstream} }]
    retries: { attempts: 0 }
defaults:
  hygiene: { maxBodyBytes: 1024, maxHeaderCount: 40, maxHeaderBytes: 4096, maxUrlBytes: 512 }
routes:
  - { id: echo, path: /api/echo, upstream: echo, stripPrefix: /api }
  - { id: echo-any, path: "/api/things/{id}", methods: [GET, PUT], upstream: echo, stripPrefix: /api }
  - { id: status, path: "/api/status/{code}", methods: [GET], upstream: echo, stripPrefix: /api }
  - { id: upload, path: /api/upload, methods: [POST], upstream: echo, stripPrefix: /api, hygiene: { maxBodyBytes: 100000 } }
  - { id: blocked, path: /api/blocked, methods: [GET], upstream: echo, ip-filter: { deny: ["127.0.0.0/8", "::1"] } }
${extra}`;

before(async () => {
  echo = await startEcho();
  t = await startTestGateway(config(echo.url));
});
after(async () => {
  await t?.close();
  await echo?.close();
});

function assertSecurityHeaders(h: Record<string, string | string[] | undefined>) {
  assert.match(String(h['strict-transport-security']), /^max-age=(\d+); includeSubDomains/);
  assert.ok(Number(/max-age=(\d+)/.exec(String(h['strict-transport-security']))?.[1]) >= 31536000);
  assert.equal(h['x-content-type-options'], 'nosniff');
  assert.equal(h['x-frame-options'], 'DENY');
  assert.equal(h['referrer-policy'], 'no-referrer');
  assert.equal(h.server, undefined);
  assert.equal(h['x-powered-by'], undefined);
  assert.match(String(h['x-request-id']), /^[A-Za-z0-9._-]{1,128}$/);
}

function assertProblem(res: { status: number; headers: Record<string, unknown>; json: () => any }, status: number, code: string) {
  assert.equal(res.status, status);
  assert.equal(res.headers['content-type'], 'application/problem+json');
  const p = res.json();
  assert.equal(p.status, status);
  assert.equal(p.code, code);
  assert.match(p.type, /^https:\/\//);
  assert.equal(typeof p.title, 'string');
  assert.equal(p.requestId, res.headers['x-request-id']);
  assert.ok(!/\n\s+at |\.ts:\d+/.test(JSON.stringify(p)), 'no stack trace');
  return p;
}

test('proxies a GET to the upstream with the normalised path and forwarding headers', async () => {
  const res = await t.fetch('/api//echo?x=1&y=%20', { headers: { 'x-forwarded-for': '6.6.6.6', 'user-agent': 'test' } });
  assert.equal(res.status, 200);
  assertSecurityHeaders(res.headers);
  const seen = res.json();
  assert.equal(seen.url, '/echo?x=1&y=%20');
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted peer cannot inject X-Forwarded-For');
  assert.equal(seen.headers['x-forwarded-proto'], 'https');
  const fwd = String(seen.headers.forwarded).split(';').sort();
  assert.deepEqual(fwd.map((p) => p.split('=')[0]), ['for', 'host', 'proto']);
  assert.ok(fwd.includes('for=127.0.0.1') && fwd.includes('proto=https'));
  assert.equal(seen.headers['x-request-id'], res.headers['x-request-id']);
  assert.match(seen.headers.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
});

test('HTTP/2 over TLS (ALPN h2) reaches the same routes', async () => {
  const res = await t.fetch('/api/echo', { h2: true });
  assert.equal(res.status, 200);
  assertSecurityHeaders(res.headers);
});

test('every proxied request carries a Rampart-Identity token; a forged one never reaches the service (S2)', async () => {
  const forged = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.';
  const res = await t.fetch('/api/echo', { headers: { 'rampart-identity': forged, 'Rampart-Foo': 'x', authorization: 'Bearer secret-token-value' } });
  const seen = res.json();
  const token = seen.headers['rampart-identity'];
  assert.ok(token && token !== forged);
  assert.equal(seen.headers['rampart-foo'], undefined);
  assert.equal(seen.headers.authorization, undefined, 'client credentials are not forwarded by default');
  const jwks = await t.fetch('/.well-known/rampart/identity-jwks.json');
  assert.equal(jwks.status, 200);
  const set = jwks.json();
  assert.ok(set.keys.every((k: Record<string, unknown>) => k.d === undefined), 'no private key material');
  const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(set), { audience: 'echo', issuer: 'urn:rampart:gateway', typ: 'rampart-id+jwt', algorithms: ['ES256'] });
  assert.equal(protectedHeader.typ, 'rampart-id+jwt');
  assert.equal(payload.sub, 'anonymous');
  assert.ok((payload.exp as number) - (payload.iat as number) <= 60);
  assert.equal(decodeProtectedHeader(token).alg, 'ES256');
  assert.ok(!t.rawLogs().includes('secret-token-value'), 'credentials never reach the log');
});

test('unknown routes and methods get problem+json 404/405 with security headers', async () => {
  const nf = await t.fetch('/nope');
  assertProblem(nf, 404, 'RAMPART_ROUTE_NOT_FOUND');
  assertSecurityHeaders(nf.headers);
  assert.equal(nf.headers['cache-control'], 'no-store');
  const na = await t.fetch('/api/things/1', { method: 'DELETE' });
  assertProblem(na, 405, 'RAMPART_ROUTE_METHOD_NOT_ALLOWED');
  assert.equal(na.headers.allow, 'GET, HEAD, PUT');
});

test('upstream 4xx and 5xx bodies are not passed through (S11); security headers stay on errors', async () => {
  const res = await t.fetch('/api/status/500');
  const p = assertProblem(res, 500, 'RAMPART_UPSTREAM_ERROR');
  assert.equal(p.detail, undefined);
  assert.ok(!res.text.includes('hunter2'));
  assertSecurityHeaders(res.headers);
  const four = await t.fetch('/api/status/404');
  assertProblem(four, 404, 'RAMPART_UPSTREAM_REJECTED');
  assert.ok(!four.text.includes('hunter2'), 'upstream 4xx text is not passed through (S11)');
  assertSecurityHeaders(four.headers);
});

test('path normalisation attacks are refused before routing', async () => {
  const ca = await t.ca();
  for (const p of ['/api/%2e%2e/admin', '/api/echo%2f..%2fadmin', '/api/%00', '/api\\echo', '/api/%c0%ae%c0%ae/echo', '/api/echo;x=1', '/api/%252e%252e/x']) {
    const res = await rawRequest(t.port(), `GET ${p} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`, { ca });
    assert.equal(res.status, 400, p);
    assert.equal(res.headers['content-type'], 'application/problem+json', p);
    assert.equal(JSON.parse(res.body).code, 'RAMPART_HYGIENE_PATH_INVALID', p);
    assert.ok(res.headers['strict-transport-security'], p);
  }
  const dot = await rawRequest(t.port(), 'GET /api/x/../echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', { ca });
  assert.equal(dot.status, 200);
  assert.equal(JSON.parse(dot.body).url, '/echo');
});

test('absolute-form targets, conflicting or missing Host are refused', async () => {
  const ca = await t.ca();
  const abs = await rawRequest(t.port(), 'GET https://evil.example/api/echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', { ca });
  assert.equal(abs.status, 400);
  const two = await rawRequest(t.port(), 'GET /api/echo HTTP/1.1\r\nHost: localhost\r\nHost: evil\r\nConnection: close\r\n\r\n', { ca });
  assert.equal(two.status, 400);
  const none = await rawRequest(t.port(), 'GET /api/echo HTTP/1.0\r\n\r\n', { ca });
  assert.equal(none.status, 400);
  assert.equal(JSON.parse(none.body).code, 'RAMPART_HYGIENE_HOST_INVALID');
});

test('header, URL and body limits are answered by hygiene as problem+json', async () => {
  const many: Record<string, string> = {};
  for (let i = 0; i < 60; i++) many[`x-h${i}`] = 'v';
  assertProblem(await t.fetch('/api/echo', { headers: many }), 431, 'RAMPART_HYGIENE_TOO_MANY_HEADERS');
  assertProblem(await t.fetch('/api/echo', { headers: { 'x-big': 'a'.repeat(5000) } }), 431, 'RAMPART_HYGIENE_HEADERS_TOO_LARGE');
  // Far above Node's own limit: still problem+json, from the parser error path.
  const huge = await rawRequest(t.port(), `GET /api/echo HTTP/1.1\r\nHost: localhost\r\nX-Huge: ${'a'.repeat(200_000)}\r\n\r\n`, { ca: await t.ca() });
  assert.equal(huge.status, 431);
  assert.equal(huge.headers['content-type'], 'application/problem+json');
  assertProblem(await t.fetch(`/api/echo?q=${'a'.repeat(600)}`), 414, 'RAMPART_HYGIENE_URI_TOO_LONG');
  assertProblem(await t.fetch('/api/things/1', { method: 'PUT', body: 'x'.repeat(2000), headers: { 'content-type': 'text/plain' } }), 413, 'RAMPART_HYGIENE_BODY_TOO_LARGE');
  // A chunked body without a length is cut off at the limit too.
  const chunked = await rawRequest(
    t.port(),
    `PUT /api/things/1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n${(2000).toString(16)}\r\n${'x'.repeat(2000)}\r\n0\r\n\r\n`,
    { ca: await t.ca() },
  );
  assert.equal(chunked.status, 413);
  const ok = await t.fetch('/api/upload', { method: 'POST', body: 'y'.repeat(50_000) });
  assert.equal(ok.status, 200);
  assert.equal(ok.json().body.length, 50_000);
});

test('malformed HTTP gets a problem+json 400 from the parser error path', async () => {
  const res = await rawRequest(t.port(), 'GET /api/echo HTTP/1.1\r\nHost: localhost\r\nBad Header\r\n\r\n', { ca: await t.ca() });
  assert.equal(res.status, 400);
  assert.equal(res.headers['content-type'], 'application/problem+json');
  assert.equal(JSON.parse(res.body).code, 'RAMPART_HYGIENE_BAD_REQUEST');
  const smuggle = await rawRequest(t.port(), 'POST /api/upload HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', { ca: await t.ca() });
  assert.equal(smuggle.status, 400);
});

test('TRACE and CONNECT are never served', async () => {
  const res = await rawRequest(t.port(), 'TRACE /api/echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', { ca: await t.ca() });
  assert.equal(res.status, 501);
});

test('the redirect listener answers 308 to the configured origin whatever Host says, without HSTS', async () => {
  const res = await rawRequest(t.port('redirect'), 'GET /api/echo?a=1 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n', { tls: false });
  assert.equal(res.status, 308);
  assert.equal(res.headers.location, 'https://localhost:8443/api/echo?a=1');
  assert.equal(res.headers['strict-transport-security'], undefined);
  const tricky = await rawRequest(t.port('redirect'), 'GET //evil.example/x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', { tls: false });
  assert.equal(tricky.headers.location, 'https://localhost:8443/');
});

test('ip-filter denies listed addresses with 403 and a security event in the log', async () => {
  const res = await t.fetch('/api/blocked');
  assertProblem(res, 403, 'RAMPART_IPFILTER_DENIED');
  assert.ok(t.logs.some((l) => (l.event as Record<string, unknown> | undefined)?.['event.action'] === 'ipfilter.denied'));
});

test('request ids: a safe inbound id is kept, an unsafe one replaced', async () => {
  const kept = await t.fetch('/api/echo', { headers: { 'x-request-id': 'abc-123' } });
  assert.equal(kept.headers['x-request-id'], 'abc-123');
  const replaced = await t.fetch('/api/echo', { headers: { 'x-request-id': '<script>' } });
  assert.notEqual(replaced.headers['x-request-id'], '<script>');
});

test('one access log line per exchange with the baseline fields', async () => {
  const res = await t.fetch('/api/things/7?token=abc', { headers: { 'x-request-id': 'log-line-test', cookie: 'session=s3cr3t' } });
  assert.equal(res.status, 200);
  await new Promise((r) => setTimeout(r, 50));
  const lines = t.logs.filter((l) => l.requestId === 'log-line-test' && l.log === 'access');
  assert.equal(lines.length, 1);
  const l = lines[0]!;
  for (const k of ['time', 'clientIp', 'method', 'route', 'path', 'status', 'bytesOut', 'durationMs', 'upstream', 'decision']) assert.ok(k in l, k);
  assert.equal(l.route, 'echo-any');
  assert.equal(l.path, '/api/things/7');
  assert.equal(l.upstream, 'echo');
  assert.ok(!t.rawLogs().includes('s3cr3t'));
});

test('denials publish ECS security events on the diagnostics channel', async () => {
  const { onSecurityEvent } = await import('../../src/observe/events.ts');
  const seen: Array<Record<string, unknown>> = [];
  const off = onSecurityEvent((e) => seen.push(e as unknown as Record<string, unknown>));
  try {
    await t.fetch('/no-such-route', { headers: { 'x-request-id': 'evt-1' } });
    await rawRequest(t.port(), 'GET /api/%2e%2e/x HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n', { ca: await t.ca() });
  } finally {
    off();
  }
  const actions = seen.map((e) => e['event.action']);
  assert.ok(actions.includes('route.not_found'), String(actions));
  assert.ok(actions.includes('hygiene.path_invalid'), String(actions));
  const e = seen.find((x) => x['event.action'] === 'hygiene.path_invalid')!;
  for (const k of ['@timestamp', 'event.kind', 'event.category', 'event.outcome', 'source.ip', 'http.request.method', 'url.path', 'http.response.status_code', 'trace.id', 'rampart.code']) assert.ok(k in e, k);
  assert.equal(e['rampart.code'], 'RAMPART_HYGIENE_PATH_INVALID');
});

test('the identity JWKS is a built-in route: cacheable, GET/HEAD only (405 problem+json otherwise), with the security headers', async () => {
  const res = await t.fetch('/.well-known/rampart/identity-jwks.json');
  assert.equal(res.status, 200);
  assert.equal(res.headers['cache-control'], 'public, max-age=60');
  assertSecurityHeaders(res.headers);
  const post = await t.fetch('/.well-known/rampart/identity-jwks.json', { method: 'POST', body: 'x' });
  assertProblem(post, 405, 'RAMPART_ROUTE_METHOD_NOT_ALLOWED');
  assert.equal(post.headers.allow, 'GET, HEAD');
});
