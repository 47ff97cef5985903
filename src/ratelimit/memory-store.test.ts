import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from './memory-store.ts';
import { ManualClock } from './clock.ts';
import { StoreError } from './store.ts';

const p = { emissionMs: 1000, burst: 1 };

test('MemoryStore: bounded — keys whose window ended go first, then the least recently used', () => {
  const clock = new ManualClock();
  const evicted: string[] = [];
  const store = new MemoryStore({ clock, sweepMs: 0, maxKeys: 1000, onEvict: (k) => evicted.push(k) });
  for (let i = 0; i < 1000; i++) store.consume([{ key: `old${i}`, ...p }], 0);
  clock.advance(1001); // every window has ended: those keys carry no information
  for (let i = 0; i < 1000; i++) store.consume([{ key: `new${i}`, ...p }], 0);
  assert.equal(store.size, 1000);
  assert.deepEqual(evicted, [], 'ended windows are dropped without evicting a live key');
  store.consume([{ key: 'new0', emissionMs: 1000, burst: 5 }], 0); // touch: new0 becomes the most recently used
  store.consume([{ key: 'extra', ...p }], 0);
  assert.equal(store.size, 1000);
  assert.deepEqual(evicted, ['new1'], 'the least recently used live key');
  assert.equal(store.consume([{ key: 'new0', ...p }], 0).allowed, false, 'new0 kept its count');
});

test('MemoryStore: sweep drops ended windows and keeps live ones', () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, sweepMs: 0 });
  store.consume([{ key: 'a', emissionMs: 100, burst: 1 }], 0);
  store.consume([{ key: 'b', emissionMs: 10_000, burst: 1 }], 0);
  clock.advance(500);
  store.sweep();
  assert.equal(store.size, 1);
});

test('MemoryStore S6: login counters are never evicted before their window ends; a full store refuses', async () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, sweepMs: 0, maxLoginKeys: 1000 });
  for (let i = 0; i < 1000; i++) await store.attempt(`u${i}`, 60_000);
  await assert.rejects(store.attempt('attacker-fresh-key', 60_000), StoreError);
  assert.equal(await store.attempt('u0', 60_000), 2, 'existing counters go on counting');
  assert.equal(await store.peek('u999'), 1, 'nothing was evicted');
  // Many rate-limit keys do not push login counters out either.
  for (let i = 0; i < 5000; i++) store.consume([{ key: `rl${i}`, ...p }], 0);
  assert.equal(await store.peek('u500'), 1);
  clock.advance(60_001);
  assert.equal(await store.attempt('attacker-fresh-key', 60_000), 1, 'room again once windows ended');
  assert.equal(await store.peek('u1'), 0);
});

test('MemoryStore: a login window restarts from the latest attempt', async () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, sweepMs: 0 });
  await store.attempt('k', 1000);
  clock.advance(900);
  await store.attempt('k', 1000);
  clock.advance(900);
  assert.equal(await store.peek('k'), 2);
  await store.reset('k');
  assert.equal(await store.peek('k'), 0);
});
