import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { LoginLimiter } from './login.ts';
import { MemoryStore } from './memory-store.ts';
import { RedisStore } from './redis-store.ts';
import { ManualClock } from './clock.ts';
import { StoreError, type LoginCounter } from './store.ts';
import { SHARED_REDIS_URL, deletePrefix, uniquePrefix } from '../../test/helpers/redis.ts';

const prefix = uniquePrefix();
after(() => deletePrefix(prefix));

async function delays(l: LoginLimiter, user: string, ip: string, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await l.attempt(user, ip)).delayMs);
  return out;
}

function suite(name: string, make: () => Promise<{ store: LoginCounter; close: () => Promise<void> }>) {
  test(`LoginLimiter S6 (${name}): a soft delay that grows, capped; a success starts over`, async () => {
    const { store, close } = await make();
    try {
      const l = new LoginLimiter({ store, purpose: 'password', keyPrefix: prefix, freeAttempts: 3, baseDelayMs: 1000, maxDelayMs: 8000 });
      assert.deepEqual(await delays(l, 'alice', '203.0.113.7', 8), [0, 0, 0, 1000, 2000, 4000, 8000, 8000]);
      await l.succeeded('alice', '203.0.113.7');
      assert.deepEqual(await delays(l, 'alice', '203.0.113.7', 2), [0, 0]);
    } finally {
      await close();
    }
  });

  test(`LoginLimiter S6 (${name}): identical for unknown usernames; per username + IP, so nobody locks admin out`, async () => {
    const { store, close } = await make();
    try {
      const l = new LoginLimiter({ store, purpose: 'password', keyPrefix: `${prefix}:${name}`, freeAttempts: 2, baseDelayMs: 500, maxDelayMs: 30_000 });
      const known = await delays(l, 'admin', '198.51.100.66', 6);
      const unknown = await delays(l, 'no-such-user-4711', '198.51.100.66', 6);
      assert.deepEqual(unknown, known, 'the limiter never asks whether a user exists');
      assert.deepEqual(await delays(l, 'admin', '203.0.113.10', 1), [0], 'the real admin elsewhere waits nothing');
      assert.deepEqual(await delays(l, 'ADMIN', '198.51.100.66', 1), [8000], 'names are normalised (case, NFKC)');
      assert.deepEqual(await delays(l, 'admin', '2001:db8:1:2::99', 3), [0, 0, 500]);
      assert.deepEqual(await delays(l, 'admin', '2001:db8:1:2::abcd', 1), [1000], 'one IPv6 /64 is one client');
      const totp = new LoginLimiter({ store, purpose: 'totp', keyPrefix: `${prefix}:${name}` });
      assert.equal((await totp.attempt('admin', '198.51.100.66')).delayMs, 0, 'TOTP failures count apart from passwords');
    } finally {
      await close();
    }
  });
}

suite('memory', async () => {
  const store = new MemoryStore({ sweepMs: 0 });
  return { store, close: () => store.close() };
});

suite('redis', async () => {
  const store = new RedisStore({ url: SHARED_REDIS_URL });
  assert.equal(await store.connect(), true);
  return { store, close: () => store.close() };
});

test('LoginLimiter S6: parallel guesses each count before the password is checked', async () => {
  const store = new MemoryStore({ sweepMs: 0 });
  const l = new LoginLimiter({ store, purpose: 'password', freeAttempts: 3, baseDelayMs: 1000 });
  const all = await Promise.all(Array.from({ length: 6 }, () => l.attempt('alice', '203.0.113.7')));
  assert.deepEqual(all.map((a) => a.delayMs).sort((a, b) => a - b), [0, 0, 0, 1000, 2000, 4000]);
});

test('LoginLimiter S6: counters persist until their window ends, then start over', async () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, sweepMs: 0 });
  const l = new LoginLimiter({ store, purpose: 'password', freeAttempts: 0, baseDelayMs: 100, windowMs: 60_000 });
  await delays(l, 'bob', '203.0.113.7', 3);
  clock.advance(59_000);
  store.sweep();
  assert.equal(await l.attempts('bob', '203.0.113.7'), 3, 'still counted within the window');
  clock.advance(60_001);
  assert.equal(await l.attempts('bob', '203.0.113.7'), 0);
});

test('LoginLimiter S6: a store that cannot count fails closed (throws), it never skips the delay', async () => {
  const store = new MemoryStore({ sweepMs: 0, maxLoginKeys: 1000 });
  const l = new LoginLimiter({ store, purpose: 'password' });
  for (let i = 0; i < 1000; i++) await l.attempt(`u${i}`, '203.0.113.7');
  await assert.rejects(l.attempt('fresh', '203.0.113.7'), StoreError);
  const down = new RedisStore({ url: 'redis://127.0.0.1:1', connectTimeoutMs: 200 });
  await down.connect();
  await assert.rejects(new LoginLimiter({ store: down, purpose: 'password' }).attempt('x', '203.0.113.7'), StoreError);
  await down.close();
});
