import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CounterLoginLimiter, MemoryLoginLimiter, loginKeys } from './login-limiter.ts';
import { MemoryStore } from '../ratelimit/memory-store.ts';

const settings = { maxFailures: 3, windowSeconds: 900, baseDelaySeconds: 30, maxDelaySeconds: 600 };

test('MemoryLoginLimiter: the attempt that reaches the budget locks the key, with a growing delay', async () => {
  const l = new MemoryLoginLimiter(settings);
  const keys = loginKeys('alice', '192.0.2.1');
  for (let i = 0; i < 2; i++) assert.equal((await l.begin(keys, 1000)).allowed, true);
  assert.equal((await l.begin(keys, 1000)).allowed, true); // the third attempt runs, then the key locks
  const locked = await l.begin(keys, 1001);
  assert.equal(locked.allowed, false);
  assert.equal(locked.retryAfterSeconds, 29);
  const later = await l.begin(keys, 1031); // delay over: one more try, then a doubled delay
  assert.equal(later.allowed, true);
  assert.equal((await l.begin(keys, 1032)).retryAfterSeconds, 59);
});

test('MemoryLoginLimiter: unknown and known usernames are counted alike; another IP is not locked (S6)', async () => {
  const l = new MemoryLoginLimiter(settings);
  for (let i = 0; i < 3; i++) await l.begin(loginKeys('admin', '198.51.100.7'), 1000);
  assert.equal((await l.begin(loginKeys('admin', '198.51.100.7'), 1000)).allowed, false);
  // The real admin, elsewhere, is not locked out by the attacker.
  assert.equal((await l.begin(loginKeys('admin', '203.0.113.9'), 1000)).allowed, true);
  for (let i = 0; i < 3; i++) await l.begin(loginKeys('nobody-here', '198.51.100.8'), 1000);
  assert.equal((await l.begin(loginKeys('nobody-here', '198.51.100.8'), 1000)).allowed, false);
});

test('MemoryLoginLimiter: parallel attempts cannot overtake the budget (counted when they start)', async () => {
  const l = new MemoryLoginLimiter(settings);
  const keys = loginKeys('bob', '192.0.2.2');
  const results = await Promise.all(Array.from({ length: 20 }, () => l.begin(keys, 1000)));
  assert.equal(results.filter((r) => r.allowed).length, 3);
});

test('MemoryLoginLimiter: success forgives the username+IP failures', async () => {
  const l = new MemoryLoginLimiter(settings);
  const keys = loginKeys('carol', '192.0.2.3');
  await l.begin(keys, 1000);
  await l.begin(keys, 1000);
  await l.succeed(keys, 1000);
  for (let i = 0; i < 3; i++) assert.equal((await l.begin(keys, 1000)).allowed, true);
});

test('MemoryLoginLimiter: the per-IP budget caps guesses across many usernames', async () => {
  const l = new MemoryLoginLimiter(settings);
  let allowed = 0;
  for (let i = 0; i < 40; i++) if ((await l.begin(loginKeys(`user${i}`, '192.0.2.4'), 1000)).allowed) allowed++;
  assert.equal(allowed, 12);
});


function counterLimiter() {
  const store = new MemoryStore({});
  return { store, limiter: new CounterLoginLimiter(settings, async () => store) };
}

test('CounterLoginLimiter (rate-limit store, shared in cluster mode): the budget, then a lock; another IP unaffected', async () => {
  const { limiter, store } = counterLimiter();
  const keys = loginKeys('alice', '192.0.2.10');
  for (let i = 0; i < 3; i++) assert.equal((await limiter.begin(keys, 0)).allowed, true);
  const locked = await limiter.begin(keys, 0);
  assert.equal(locked.allowed, false);
  assert.equal(locked.retryAfterSeconds, 30);
  assert.equal((await limiter.begin(loginKeys('alice', '192.0.2.11'), 0)).allowed, true);
  assert.equal(JSON.stringify([...(store as unknown as { keys?: () => string[] }).keys?.() ?? []]).includes('alice'), false);
  await store.close?.();
});

test('CounterLoginLimiter: parallel attempts cannot overtake the budget', async () => {
  const { limiter, store } = counterLimiter();
  const keys = loginKeys('bob', '192.0.2.12');
  const results = await Promise.all(Array.from({ length: 20 }, () => limiter.begin(keys, 0)));
  assert.equal(results.filter((r) => r.allowed).length, 3);
  await store.close?.();
});

test('CounterLoginLimiter: success forgives the username+IP count and lock', async () => {
  const { limiter, store } = counterLimiter();
  const keys = loginKeys('carol', '192.0.2.13');
  await limiter.begin(keys, 0);
  await limiter.begin(keys, 0);
  await limiter.succeed(keys, 0);
  for (let i = 0; i < 3; i++) assert.equal((await limiter.begin(keys, 0)).allowed, true);
  await store.close?.();
});

test('CounterLoginLimiter: a store that fails rejects (the page fails closed)', async () => {
  const limiter = new CounterLoginLimiter(settings, async () => ({
    attempt: async () => { throw new Error('store down'); },
    peek: async () => { throw new Error('store down'); },
    reset: async () => undefined,
  }));
  await assert.rejects(limiter.begin(loginKeys('dave', '192.0.2.14'), 0), /store down/);
});
