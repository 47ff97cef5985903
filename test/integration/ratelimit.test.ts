/**
 * Rate limiting through the real gateway (memory store): 429 problem+json with Retry-After and the
 * RateLimit fields, headers on allowed answers, S5 keys, quota by header and by user (anonymous →
 * IP), shadow mode, the queue, per-upstream concurrency, load shedding, counters across a reload,
 * and invalid limit configs refused with their path.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { parseConfig, ConfigError } from '../../src/config/load.ts';
import { STAGES } from '../../src/stages/index.ts';

let echo: EchoServer;
let t: TestGateway;

const yaml = (extraRoute = '') => `
trustedProxies: ["10.0.0.0/8"]
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - { id: echo, targets: [{ url: ${echo.url} }] }
  - { id: narrow, targets: [{ url: ${echo.url} }], concurrency: { maxInFlight: 1, maxQueue: 1, maxWaitMs: 100 } }
routes:
  - { id: limited, path: /limited, upstream: echo, throttle: { limits: [{ id: per-ip, limit: 1, window: 60, burst: 3 }] } }
  - { id: xff, path: /xff, upstream: echo, throttle: { limits: [{ id: xff, limit: 2, window: 60 }] } }
  - id: orders
    path: /orders
    methods: [GET, POST]
    upstream: echo
    quota: { limits: [{ id: orders-user, limit: 2, window: 60, by: user }] }
  - { id: tenant, path: /tenant, upstream: echo, quota: { limits: [{ id: per-tenant, limit: 1, window: 60, by: header, header: X-Tenant }] } }
  - { id: shadow, path: /shadow, upstream: echo, throttle: { mode: shadow, limits: [{ id: sh, limit: 1, window: 60 }] } }
  - id: queued
    path: /queued
    upstream: echo
    throttle: { onExceed: queue, queue: { maxLength: 10, maxPerKey: 2, maxWaitMs: 5000 }, limits: [{ id: q, limit: 1, window: 2, burst: 1 }] }
  - { id: narrow, path: "/slow/{ms}", upstream: narrow }
  - { id: shed, path: /shed, upstream: echo, throttle: { loadShedding: { maxEventLoopLagMs: 150, retryAfterSeconds: 3 } } }
${extraRoute}`;

before(async () => {
  echo = await startEcho();
  t = await startTestGateway(yaml());
});
after(async () => {
  await t?.close();
  await echo?.close();
});

const settle = () => new Promise((r) => setTimeout(r, 30));

test('throttle: burst honoured, then 429 problem+json with Retry-After, RateLimit-Policy and RateLimit', async () => {
  const ok = await Promise.all([1, 2, 3].map(() => t.fetch('/limited')));
  assert.deepEqual(ok.map((r) => r.status), [200, 200, 200]);
  // Allowed answers carry the fields too (response phase).
  assert.equal(ok[0]?.headers['ratelimit-policy'], '"per-ip";q=3;w=180');
  const states = ok.map((r) => String(r.headers['ratelimit'])).sort();
  assert.match(states[0] ?? '', /^"per-ip";r=0;t=(179|180)$/);
  assert.match(states[2] ?? '', /^"per-ip";r=2;t=(59|60)$/);
  const res = await t.fetch('/limited', { headers: { 'x-request-id': 'rl-429' } });
  assert.equal(res.status, 429);
  assert.match(String(res.headers['content-type']), /^application\/problem\+json/);
  const body = res.json();
  assert.equal(body.code, 'RAMPART_RATELIMIT_EXCEEDED');
  assert.equal(body.status, 429);
  assert.equal(res.headers['retry-after'], '60');
  assert.equal(res.headers['ratelimit-policy'], '"per-ip";q=3;w=180');
  assert.match(String(res.headers['ratelimit']), /^"per-ip";r=0;t=(179|180)$/);
  assert.ok(!res.text.includes('203.0.113') && !res.text.includes('127.0.0.1'), 'no key material in the body');
  await settle();
  const line = t.logs.find((l) => l.requestId === 'rl-429' && l.log === 'access');
  assert.equal(line?.reason, 'RAMPART_RATELIMIT_EXCEEDED');
  assert.deepEqual(line?.throttle, { decision: 'rejected', limit: 'per-ip' });
  const event = t.logs.find((l) => l.log === 'security' && (l.event as Record<string, unknown>)?.['event.action'] === 'ratelimit.exceeded');
  assert.equal((event?.event as Record<string, unknown>)['rule.id'], 'per-ip');
});

test('S5: a forged X-Forwarded-For from an untrusted peer never changes the key', async () => {
  const statuses: number[] = [];
  for (const xff of ['198.51.100.1', '198.51.100.2', '198.51.100.3', '10.1.1.1, 198.51.100.4']) {
    statuses.push((await t.fetch('/xff', { headers: { 'x-forwarded-for': xff, forwarded: `for=${xff.split(',')[0]}` } })).status);
  }
  assert.deepEqual(statuses, [200, 200, 429, 429]);
});

test('quota by user: anonymous callers are counted per client IP until authentication lands', async () => {
  const s = [];
  for (let i = 0; i < 3; i++) s.push((await t.fetch('/orders', { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status);
  assert.deepEqual(s, [200, 200, 429]);
});

test('quota by header: combined with the IP, so each value is its own budget for this client', async () => {
  assert.equal((await t.fetch('/tenant', { headers: { 'x-tenant': 'acme' } })).status, 200);
  assert.equal((await t.fetch('/tenant', { headers: { 'x-tenant': 'acme' } })).status, 429);
  assert.equal((await t.fetch('/tenant', { headers: { 'x-tenant': 'globex' } })).status, 200);
});

test('shadow mode: nothing refused and no RateLimit fields, the would-be refusals logged and counted', async () => {
  const res = [];
  for (let i = 0; i < 4; i++) res.push(await t.fetch('/shadow', { headers: { 'x-request-id': `sh-${i}` } }));
  assert.deepEqual(res.map((r) => r.status), [200, 200, 200, 200]);
  assert.equal(res[3]?.headers['ratelimit'], undefined);
  await settle();
  assert.equal(t.logs.filter((l) => l.msg === 'shadow mode: would deny' && String(l.requestId).startsWith('sh-')).length, 3);
});

test('onExceed: queue — excess requests wait (bounded, in schedule order) instead of failing; beyond the key’s share: 429', async () => {
  const ids = [0, 1, 2, 3, 4].map((i) => `q-${i}`);
  const res = await Promise.all(ids.map((id) => t.fetch('/queued', { headers: { 'x-request-id': id } })));
  const statuses = res.map((r) => r.status).sort();
  // One at once, two waiting (this client's share, maxPerKey 2), two refused: one per 2 s.
  assert.deepEqual(statuses, [200, 200, 200, 429, 429]);
  for (const full of res.filter((r) => r.status === 429)) {
    assert.equal(full.json().code, 'RAMPART_RATELIMIT_QUEUE_FULL');
    assert.ok(Number(full.headers['retry-after']) >= 1);
  }
  await settle();
  const waited = t.logs.filter((l) => l.log === 'access' && ids.includes(String(l.requestId)) && (l.throttle as { decision?: string })?.decision === 'queued');
  const waits = waited.map((l) => (l.throttle as { waitedMs: number }).waitedMs).sort((a, b) => a - b);
  assert.equal(waits.length, 2);
  assert.ok(waits.every((w) => w <= 5000), 'no wait beyond maxWaitMs');
  // The schedule: the first waiter one emission interval (2 s) after the admitted one, the next 2 s later.
  assert.ok(waits[0]! > 1000 && waits[0]! <= 2000 && waits[1]! > 3000 && waits[1]! <= 4000, `waits ${waits}`);
});

test('upstream concurrency: beyond maxInFlight and its queue, 503 RAMPART_UPSTREAM_SATURATED with Retry-After', async () => {
  const res = await Promise.all([1, 2, 3, 4].map(() => t.fetch('/slow/400')));
  const statuses = res.map((r) => r.status).sort();
  assert.equal(statuses.filter((s) => s === 200).length >= 1, true);
  const saturated = res.filter((r) => r.status === 503);
  assert.ok(saturated.length >= 2, `at most one in flight and one waiting for 100 ms: ${statuses}`);
  for (const r of saturated) {
    assert.equal(r.json().code, 'RAMPART_UPSTREAM_SATURATED');
    assert.equal(r.headers['retry-after'], '1');
  }
  assert.equal((await t.fetch('/slow/1')).status, 200, 'slots are given back when responses end');
});

test('load shedding: while the event loop lags, 503 RAMPART_GATEWAY_OVERLOADED; afterwards served again', async () => {
  assert.equal((await t.fetch('/shed')).status, 200);
  const pending = t.fetch('/shed');
  const until = Date.now() + 400;
  while (Date.now() < until) { /* block the event loop this gateway runs on */ }
  const res = await pending;
  assert.equal(res.status, 503);
  assert.equal(res.json().code, 'RAMPART_GATEWAY_OVERLOADED');
  assert.equal(res.headers['retry-after'], '3');
  let ok = false;
  for (let i = 0; i < 40 && !ok; i++) {
    await new Promise((r) => setTimeout(r, 100));
    ok = (await t.fetch('/shed')).status === 200;
  }
  assert.ok(ok, 'recovers once the lag is gone');
});

test('hot reload: counters survive for limits whose id is unchanged', async () => {
  // /limited was exhausted by the first test.
  assert.equal((await t.fetch('/limited')).status, 429);
  await t.rewrite(yaml('  - { id: extra, path: /extra, upstream: echo }'));
  const r = await t.gw.reload();
  assert.equal(r.ok, true, JSON.stringify(r.problems));
  assert.equal((await t.fetch('/extra')).status, 200, 'the new config serves');
  assert.equal((await t.fetch('/limited')).status, 429, 'the same id keeps its count');
});

test('invalid limit configs are refused at load, each with its path', () => {
  const bad = `
listeners: [{ name: public, port: 0, protocol: https, tls: { dev: true } }]
upstreams: [{ id: echo, targets: [{ url: http://127.0.0.1:1 }] }]
rateLimit: { store: redis }
defaults:
  throttle: { limits: [{ id: a, limit: 0, window: 1 }] }
routes:
  - id: r
    path: /r
    upstream: echo
    throttle: { onExceed: later, limits: [{ id: b, limit: 5, window: 5x }, { id: c, limit: 5, window: 1, by: user }] }
    quota:
      limits: [{ id: d, limit: 5, window: 60, by: header }, { id: d, limit: 1, window: 60, bogus: 1 }]
`;
  let err: unknown;
  try {
    parseConfig(bad, 'rampart.yaml', '/tmp', STAGES);
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof ConfigError);
  const msg = err.message;
  for (const path of [
    'defaults.throttle.limits[0].limit',
    'routes[0].throttle.onExceed',
    'routes[0].throttle.limits[0].window',
    'routes[0].throttle.limits[1].by',
    'routes[0].quota.limits[1].bogus',
    'rateLimit.store',
  ]) assert.match(msg, new RegExp(`rampart\\.yaml:\\d+:\\d+: ${path.replace(/[[\].]/g, '\\$&')}: `), `${path} named in:\n${msg}`);
});

test('invalid limit configs: cross-field problems are named by path too', () => {
  const bad = `
listeners: [{ name: public, port: 0, protocol: https, tls: { dev: true } }]
upstreams: [{ id: echo, targets: [{ url: http://127.0.0.1:1 }] }]
rateLimit: { store: redis, redis: { url: "redis://user:secret@127.0.0.1:6379" } }
routes:
  - id: r
    path: /r
    upstream: echo
    quota:
      limits: [{ id: d, limit: 5, window: 60, by: header }, { id: d, limit: 1, window: 60 }]
      queue: { maxLength: 2, maxPerKey: 5 }
`;
  assert.throws(() => parseConfig(bad, 'rampart.yaml', '/tmp', STAGES), (e: unknown) => {
    const msg = (e as Error).message;
    assert.match(msg, /routes\[0\]\.quota\.limits\[0\]\.header: by: header needs the header name/);
    assert.match(msg, /routes\[0\]\.quota\.limits\[1\]\.id: duplicate limit id "d"/);
    assert.match(msg, /routes\[0\]\.quota\.queue\.maxPerKey: cannot exceed/);
    assert.match(msg, /rateLimit\.redis\.url: no password in the URL/);
    assert.ok(!msg.includes('secret'), 'the password is not echoed');
    return true;
  });
});
