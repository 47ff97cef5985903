import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TokenCache, tokenHash } from './token-cache.ts';
import { AccountDirectory } from './accounts.ts';
import { ApiKeyGate } from './api-keys.ts';
import { accountsDouble, now } from './testing.ts';
import type { VerifiedToken } from './token.ts';

test('TokenCache: keyed by SHA-256 of the token, bounded, oldest out first', () => {
  const c = new TokenCache(2);
  const v = { subject: 'x' } as unknown as VerifiedToken;
  assert.equal(tokenHash('a.b.c').length, 44);
  assert.notEqual(tokenHash('a.b.c'), 'a.b.c');
  c.set('1', v);
  c.set('2', v);
  c.set('3', v);
  assert.equal(c.size, 2);
  assert.equal(c.get('1'), undefined);
  assert.equal(c.get('3'), v);
  c.clear();
  assert.equal(c.size, 0);
  const off = new TokenCache(0);
  off.set('1', v);
  assert.equal(off.size, 0, 'maxEntries 0: no cache');
});

test('AccountDirectory: one store read per account within the TTL, shared by concurrent lookups; store errors reject', async () => {
  const store = accountsDouble();
  store.addUser('alice', ['customer']);
  const clock = { t: 1_000_000 };
  const d = new AccountDirectory(store, { ttlSeconds: 5, now: () => clock.t });
  const [a, b] = await Promise.all([d.lookup('user', 'alice'), d.lookup('user', 'alice')]);
  assert.deepEqual(a, { roles: ['customer'], disabled: false });
  assert.equal(a, b);
  assert.equal(store.reads, 1, 'single-flight');
  assert.deepEqual(d.lookup('user', 'alice'), a, 'a cache hit answers synchronously');
  clock.t += 5_000;
  store.failing = true;
  await assert.rejects(Promise.resolve(d.lookup('user', 'alice')));
  assert.equal(await Promise.resolve(d.lookup('client', 'nobody')).catch(() => 'rejected'), 'rejected');
});

test('ApiKeyGate: remembers accepted keys for cacheSeconds, checks expiry on hits, never caches refusals', async () => {
  let calls = 0;
  let answer: 'ok' | 'revoked' = 'ok';
  const clock = { t: now() * 1000 };
  const gate = new ApiKeyGate({
    verify: async () => {
      calls++;
      return answer === 'ok' ? { ok: true, key: { id: 'k', name: 'n', secretMac: 'm', pepperKid: 'p', roles: ['r'], scopes: [], createdAt: 1, expiresAt: Math.floor(clock.t / 1000) + 20 } } : { ok: false, reason: 'revoked' };
    },
  }, { cacheSeconds: 10, now: () => clock.t });
  assert.equal((await gate.check('rmp_k_x')).ok, true);
  const hit = await gate.check('rmp_k_x');
  assert.ok(hit.ok && hit.cached);
  assert.equal(calls, 1);
  assert.deepEqual(await gate.check(''), { ok: false, reason: 'malformed' });
  clock.t += 10_000;
  answer = 'revoked';
  assert.deepEqual(await gate.check('rmp_k_x'), { ok: false, reason: 'revoked' }, 'after cacheSeconds the verifier decides again');
  assert.deepEqual(await gate.check('rmp_k_x'), { ok: false, reason: 'revoked' });
  assert.equal(calls, 3);
});
