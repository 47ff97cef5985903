import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { throttleStage, type ThrottleConfig } from './index.ts';
import { mergeStageConfig } from '../../config/merge.ts';
import { closeTestEnvs, testCtx, testEnv } from '../../ratelimit/testing.ts';
import type { Decision } from '../../core/stage.ts';
import { rateLimitStats } from '../../ratelimit/stats.ts';

after(closeTestEnvs);
const cfg = (over: Partial<ThrottleConfig>) => mergeStageConfig(throttleStage.defaults, over);

test('throttle: 429 with Retry-After and the RateLimit fields; allowed answers get them in the response phase', async () => {
  const stage = await throttleStage.compile(cfg({ limits: [{ id: 'per-ip', limit: 10, window: '1s', burst: 2 }] }), testEnv());
  const ctx = testCtx();
  const first = await stage.onRequest!(ctx);
  assert.equal(first.kind, 'next');
  const response = { status: 200, headers: {} as Record<string, string>, body: null };
  await stage.onResponse!(ctx, response);
  assert.equal(response.headers['ratelimit-policy'], '"per-ip";q=10;w=1');
  assert.match(response.headers['ratelimit'] ?? '', /^"per-ip";r=1;t=1$/);
  await stage.onRequest!(testCtx());
  const d = (await stage.onRequest!(testCtx())) as Decision;
  assert.equal(d.kind, 'deny');
  if (d.kind !== 'deny') return;
  assert.equal(d.error.status, 429);
  assert.equal(d.error.code, 'RAMPART_RATELIMIT_EXCEEDED');
  assert.equal(d.error.headers['retry-after'], '1');
  assert.equal(d.error.headers['ratelimit-policy'], '"per-ip";q=10;w=1');
  assert.match(d.error.headers['ratelimit'] ?? '', /^"per-ip";r=0;t=1$/);
});

test('throttle: headers: denied keeps allowed answers bare; none sends only Retry-After', async () => {
  const denied = await throttleStage.compile(cfg({ limits: [{ id: 'a', limit: 1, window: 60 }], headers: 'denied' }), testEnv({ keyPrefix: 'h1' }));
  const ctx = testCtx();
  await denied.onRequest!(ctx);
  const response = { status: 200, headers: {} as Record<string, string>, body: null };
  await denied.onResponse!(ctx, response);
  assert.deepEqual(response.headers, {});
  const none = await throttleStage.compile(cfg({ limits: [{ id: 'a', limit: 1, window: 60 }], headers: 'none' }), testEnv({ keyPrefix: 'h2' }));
  await none.onRequest!(testCtx());
  const d = await none.onRequest!(testCtx());
  assert.ok(d.kind === 'deny');
  if (d.kind === 'deny') assert.deepEqual(Object.keys(d.error.headers), ['retry-after']);
});

test('throttle: shadow mode counts the would-be refusals and never delays (also with onExceed: queue)', async () => {
  const stage = await throttleStage.compile(cfg({ limits: [{ id: 's', limit: 1, window: 60 }], mode: 'shadow', onExceed: 'queue' }), testEnv({ keyPrefix: 'sh' }));
  assert.equal(stage.mode, 'shadow');
  const before = rateLimitStats().throttle?.shadowRejected ?? 0;
  await stage.onRequest!(testCtx());
  const d = await stage.onRequest!(testCtx());
  assert.equal(d.kind, 'deny', 'the runner turns a shadow denial into "would deny" and goes on');
  assert.equal((rateLimitStats().throttle?.shadowRejected ?? 0) - before, 1);
  assert.equal((rateLimitStats().throttle?.queued ?? 0), 0, 'nothing waited');
});

test('throttle: onExceed: queue waits within bounds; a client beyond its share gets RAMPART_RATELIMIT_QUEUE_FULL', async () => {
  const stage = await throttleStage.compile(cfg({
    limits: [{ id: 'q', limit: 20, window: 1, burst: 1 }], onExceed: 'queue', queue: { maxLength: 10, maxPerKey: 2, maxWaitMs: 1000 },
  }), testEnv({ keyPrefix: 'qq' }));
  const results = await Promise.all([1, 2, 3, 4].map(() => stage.onRequest!(testCtx())));
  assert.deepEqual(results.map((d) => d.kind), ['next', 'next', 'next', 'deny']);
  const last = results[3];
  if (last?.kind === 'deny') assert.equal(last.error.code, 'RAMPART_RATELIMIT_QUEUE_FULL');
});

test('throttle: the store down → 503 problem (fail closed); onStoreError: allow lets through', async () => {
  const down = { store: 'redis' as const, redis: { url: 'redis://127.0.0.1:1', timeoutMs: 100, connectTimeoutMs: 100 } };
  const closed = await throttleStage.compile(cfg({ limits: [{ id: 'd', limit: 10, window: 1 }] }), testEnv(down, 'down1'));
  const d = await closed.onRequest!(testCtx());
  assert.equal(d.kind, 'deny');
  if (d.kind === 'deny') {
    assert.equal(d.error.status, 503);
    assert.equal(d.error.code, 'RAMPART_RATELIMIT_STORE_UNAVAILABLE');
    assert.equal(d.error.headers['retry-after'], '2');
  }
  const open = await throttleStage.compile(cfg({ limits: [{ id: 'd', limit: 10, window: 1 }], onStoreError: 'allow' }), testEnv(down, 'down2'));
  assert.equal((await open.onRequest!(testCtx())).kind, 'next');
});

test('throttle: a forged X-Forwarded-For does not change the key (the key is the resolved client IP)', async () => {
  const stage = await throttleStage.compile(cfg({ limits: [{ id: 'x', limit: 1, window: 60 }] }), testEnv({ keyPrefix: 'xff' }));
  assert.equal((await stage.onRequest!(testCtx({ headers: { 'x-forwarded-for': '1.1.1.1' } }))).kind, 'next');
  assert.equal((await stage.onRequest!(testCtx({ headers: { 'x-forwarded-for': '2.2.2.2' } }))).kind, 'deny');
});

test('throttle: without limits or shedding it costs nothing (no handler)', async () => {
  const stage = await throttleStage.compile(throttleStage.defaults, testEnv());
  assert.equal(stage.onRequest, undefined);
});
