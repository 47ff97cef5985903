import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryLoginLimiter, loginKeys } from './login-limiter.ts';

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
