/**
 * The pure parts of the proxy: header rules, the upstream request target, error mapping, schema.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { errors } from 'undici';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { forwarded, upstreamRequestHeaders, xForwardedFor } from './request-headers.ts';
import { clientResponseHeaders, clientTrailers } from './response-headers.ts';
import { stripPrefix, upstreamTarget } from './target-path.ts';
import { classify } from './errors.ts';
import { proxyStage } from './index.ts';

const listener = { name: 'l', scheme: 'https' as const, publicOrigin: 'https://gw' };
const base = { clientIp: '198.51.100.7', peerIp: '198.51.100.7', host: 'api.example.com:8443', listener, requestId: 'rid', traceparent: 'tp' };

test('upstreamRequestHeaders drops Connection-listed fields and every Rampart-* field', () => {
  const h = upstreamRequestHeaders({ ...base, headers: { connection: 'x-secret', 'x-secret': '1', 'rampart-identity': 'forged', 'rampart-x': 'y', 'x-rewrite-url': '/admin', te: 'trailers', ok: 'yes' } }, { forwardCredentials: false, identityToken: 'tok' });
  assert.deepEqual(Object.keys(h).sort(), ['forwarded', 'ok', 'rampart-identity', 'traceparent', 'x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'x-request-id']);
  assert.equal(h['rampart-identity'], 'tok');
});

test('forwarded (RFC 7239 §6) quotes and brackets IPv6 and quotes a host with a port', () => {
  assert.equal(forwarded(base), 'for=198.51.100.7;host="api.example.com:8443";proto=https');
  assert.equal(forwarded({ ...base, clientIp: '2001:db8::1', host: 'a.example' }), 'for="[2001:db8::1]";host=a.example;proto=https');
  assert.equal(forwarded({ ...base, clientIp: 'unknown' }).startsWith('for=unknown;'), true);
});

test('forwarded: the element remembered from the last request is reused only for the same client, host and scheme', () => {
  const a = forwarded({ ...base, host: 'a.example' });
  assert.equal(forwarded({ ...base, host: 'a.example' }), a);
  assert.equal(forwarded({ ...base, host: 'b.example' }), 'for=198.51.100.7;host=b.example;proto=https');
  assert.equal(forwarded({ ...base, host: 'b.example', clientIp: '203.0.113.9' }), 'for=203.0.113.9;host=b.example;proto=https');
  assert.equal(forwarded({ ...base, host: 'b.example', clientIp: '203.0.113.9', listener: { ...listener, scheme: 'http' } }), 'for=203.0.113.9;host=b.example;proto=http');
});

test('xForwardedFor replaces without a trusted proxy, appends the peer behind one', () => {
  assert.equal(xForwardedFor({ ...base, headers: { 'x-forwarded-for': '1.1.1.1' } }), '198.51.100.7');
  const behind = { clientIp: '198.51.100.7', peerIp: '10.0.0.2' };
  assert.equal(xForwardedFor({ ...behind, headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.9' } }), '198.51.100.7, 10.0.0.9, 10.0.0.2');
  assert.equal(xForwardedFor({ ...behind, headers: {} }), '198.51.100.7, 10.0.0.2', 'client from Forwarded only');
});

test('clientResponseHeaders drops hop-by-hop, banners and Proxy-*; clientTrailers drops framing fields', () => {
  const out = clientResponseHeaders({ connection: 'close, x-hop', 'x-hop': '1', 'transfer-encoding': 'chunked', 'proxy-authenticate': 'Basic', server: 'nginx', 'x-powered-by': 'Express', trailer: 'x-t', 'set-cookie': ['a=1', 'b=2'], etag: '"1"' });
  assert.deepEqual(out, { 'set-cookie': ['a=1', 'b=2'], etag: '"1"' });
  assert.deepEqual(clientTrailers({ 'x-digest': 'abc', 'content-length': '3', authorization: 'x' }), { 'x-digest': 'abc' });
  assert.equal(clientTrailers({}), undefined);
});

test('upstreamTarget strips the prefix on a segment boundary and encodes the path once (S11)', () => {
  assert.equal(stripPrefix('/api/v1/x', '/api'), '/v1/x');
  assert.equal(stripPrefix('/api/v1/x', '/api/'), '/v1/x');
  assert.equal(stripPrefix('/api', '/api'), '/');
  assert.equal(stripPrefix('/apiary', '/api'), '/apiary');
  assert.equal(stripPrefix('/x', undefined), '/x');
  assert.equal(upstreamTarget('/api/a b/ü', 'q=1', '/api'), '/a%20b/%C3%BC?q=1');
  assert.equal(upstreamTarget('/a:b@c', '', undefined), '/a:b@c');
});

test('classify maps undici failures to catalog codes, with retry and health consequences', () => {
  const connect = classify(new errors.ConnectTimeoutError());
  assert.equal(connect.error.code, 'RAMPART_UPSTREAM_CONNECT_FAILED');
  assert.ok(connect.retryable && connect.upstreamFault);
  const headers = classify(new errors.HeadersTimeoutError());
  assert.equal(headers.error.code, 'RAMPART_UPSTREAM_TIMEOUT');
  assert.equal(headers.error.status, 504);
  const refused = classify(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:80'), { code: 'ECONNREFUSED' }));
  assert.equal(refused.error.code, 'RAMPART_UPSTREAM_CONNECT_FAILED');
  assert.equal(refused.error.publicDetail, undefined, 'no address or undici text for the client');
  const tls = classify(Object.assign(new Error('self-signed'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }));
  assert.ok(tls.tls);
  const parser = classify(Object.assign(new Error('bad'), { code: 'HPE_INVALID_CONSTANT' }));
  assert.equal(parser.error.code, 'RAMPART_UPSTREAM_PROTOCOL_ERROR');
  assert.equal(parser.retryable, false, 'response bytes were received');
  assert.equal(classify(new TypeError('bug')).error.code, 'RAMPART_GATEWAY_INTERNAL');
});

test('proxyStage.schema is strict and carries no defaults', () => {
  const ajv = new Ajv2020({ allErrors: true, strict: false });
  const validate = ajv.compile(proxyStage.schema);
  assert.equal(validate(proxyStage.defaults), true);
  assert.equal(validate({ passUpstreamErrors: ['4xx'], timeouts: { headersMs: 500 } }), true);
  assert.equal(validate({ passUpstreamErrors: true }), false);
  assert.equal(validate({ unknown: 1 }), false);
  assert.equal(validate({ timeouts: { connectMs: 500 } }), false);
  assert.equal(validate({ timeouts: { headersMs: 5 } }), false);
  assert.ok(!JSON.stringify(proxyStage.schema).includes('"default"'));
});

test('S1: the authorization server cookies never reach an upstream', async () => {
  const { withoutAuthServerCookies } = await import('./request-headers.ts');
  assert.equal(withoutAuthServerCookies('a=1; rampart-auth-session=x; rampart-auth-session.sig=y; b=2'), 'a=1; b=2');
  assert.equal(withoutAuthServerCookies('Rampart-Auth-CSRF=z'), undefined);
  assert.equal(withoutAuthServerCookies(['a=1', 'rampart-auth-interaction=q']), 'a=1');
});

test('S9: watchCredential closes an upgraded connection at expiry and when the credential is withdrawn', async (t) => {
  const { watchCredential } = await import('./upgrade.ts');
  t.mock.timers.enable({ apis: ['setTimeout', 'setInterval'] });
  const base = { annotations: new Map<string, unknown>(), principal: { expiresAt: 100 } } as never;
  let closed = 0;
  const stop = watchCredential(base, () => closed++, () => 90_000);
  t.mock.timers.tick(9_999);
  assert.equal(closed, 0);
  t.mock.timers.tick(1);
  assert.equal(closed, 1, 'closed when the token expires');
  stop();
  let valid = true;
  const revocable = { annotations: new Map<string, unknown>([['authn.stillValid', () => valid]]), principal: {} } as never;
  let closed2 = 0;
  const stop2 = watchCredential(revocable, () => closed2++);
  t.mock.timers.tick(5_000);
  assert.equal(closed2, 0);
  valid = false;
  t.mock.timers.tick(5_000);
  assert.equal(closed2, 1, 'closed once the deny-list withdraws it');
  stop2();
  t.mock.timers.tick(20_000);
  assert.equal(closed2, 1, 'stopped after close');
});
