/**
 * The Redis store against a real Redis: the machine's shared one for behaviour (a unique key
 * prefix per run), a throwaway one for failures (stopped and started by the test).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { RedisStore } from './redis-store.ts';
import { MemoryStore } from './memory-store.ts';
import { ManualClock } from './clock.ts';
import { compileLimit } from './policy.ts';
import { StoreError } from './store.ts';
import { SHARED_REDIS_URL, deletePrefix, throwawayRedis, uniquePrefix } from '../../test/helpers/redis.ts';

const prefix = uniquePrefix();
after(() => deletePrefix(prefix));

async function shared(now?: () => number): Promise<RedisStore> {
  const s = new RedisStore({ url: SHARED_REDIS_URL, now });
  assert.equal(await s.connect(), true, `Redis at ${SHARED_REDIS_URL} (CI starts one)`);
  return s;
}

test('RedisStore: the same answers as the memory store on the same schedule (Lua ≡ gcra.ts)', async () => {
  const clock = new ManualClock();
  const redis = await shared(() => clock.now());
  const memory = new MemoryStore({ clock, sweepMs: 0 });
  const s = compileLimit({ id: 's', limit: 10, window: 1, burst: 5 });
  const m = compileLimit({ id: 'm', limit: 30, window: '1m' });
  try {
    for (let step = 0; step < 60; step++) {
      const items = [{ key: `${prefix}:eq:s`, ...s }, { key: `${prefix}:eq:m`, ...m }];
      const a = memory.consume(items, step % 3 === 0 ? 150 : 0);
      const b = await redis.consume(items, step % 3 === 0 ? 150 : 0);
      assert.equal(b.allowed, a.allowed, `step ${step}`);
      assert.equal(b.denied, a.denied, `step ${step}`);
      assert.ok(Math.abs(b.waitMs - a.waitMs) < 1, `step ${step} wait ${b.waitMs} vs ${a.waitMs}`);
      b.items.forEach((it, i) => {
        assert.equal(it.remaining, a.items[i]?.remaining, `step ${step} item ${i} remaining`);
        assert.ok(Math.abs(it.resetMs - (a.items[i]?.resetMs ?? 0)) < 1, `step ${step} item ${i} reset`);
        assert.ok(Math.abs(it.retryAfterMs - (a.items[i]?.retryAfterMs ?? 0)) < 1, `step ${step} item ${i} retry`);
      });
      clock.advance(step % 7 === 0 ? 400 : 37);
    }
  } finally {
    await redis.close();
  }
});

test('RedisStore: concurrent checks from two clients hold one limit exactly (atomic script, server time)', async () => {
  const a = await shared();
  const b = await shared();
  const p = compileLimit({ id: 'c', limit: 50, window: '1h' });
  try {
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).consume([{ key: `${prefix}:atomic`, ...p }], 0)));
    assert.equal(results.filter((r) => r.allowed).length, 50);
  } finally {
    await a.close();
    await b.close();
  }
});

test('RedisStore S6: login counters count across clients and expire with their window', async () => {
  const a = await shared();
  const b = await shared();
  try {
    const key = `${prefix}:login:x`;
    assert.equal(await a.attempt(key, 60_000), 1);
    assert.equal(await b.attempt(key, 60_000), 2);
    assert.equal(await a.peek(key), 2);
    await b.reset(key);
    assert.equal(await a.peek(key), 0);
    await a.attempt(`${prefix}:login:short`, 50);
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(await a.peek(`${prefix}:login:short`), 0);
  } finally {
    await a.close();
    await b.close();
  }
});

test('RedisStore: fails closed while Redis is down (StoreError at once), recovers when it is back', async () => {
  const server = await throwawayRedis();
  const store = new RedisStore({ url: server.url, timeoutMs: 300, connectTimeoutMs: 300 });
  const p = compileLimit({ id: 'f', limit: 100, window: 1 });
  try {
    assert.equal(await store.connect(), true);
    assert.equal((await store.consume([{ key: 'k', ...p }], 0)).allowed, true);
    await server.stop();
    for (let i = 0; i < 5; i++) await assert.rejects(store.consume([{ key: 'k', ...p }], 0), StoreError);
    await assert.rejects(store.attempt('login', 1000), StoreError);
    await server.start();
    let ok = false;
    for (let i = 0; i < 100 && !ok; i++) {
      ok = await store.consume([{ key: 'k', ...p }], 0).then((r) => r.allowed, () => false);
      if (!ok) await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(ok, 'reconnected');
  } finally {
    await store.close();
    await server.stop();
  }
});

test('RedisStore: an unreachable Redis at start is a StoreError per check, not a crash', async () => {
  const store = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 });
  try {
    assert.equal(await store.connect(), false);
    await assert.rejects(store.consume([{ key: 'k', emissionMs: 10, burst: 1 }], 0), StoreError);
  } finally {
    await store.close();
  }
});
