import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from './memory-store.ts';
import { ManualClock } from './clock.ts';
import { compileLimit } from './policy.ts';

/** Sends n requests at the clock's current time; returns how many were admitted. */
function burst(store: MemoryStore, key: string, p: { emissionMs: number; burst: number }, n: number): number {
  let ok = 0;
  for (let i = 0; i < n; i++) if (store.consume([{ key, ...p }], 0).allowed) ok++;
  return ok;
}

test('gcra: no 2× burst at a window edge (a fixed window would admit 200 here)', () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, sweepMs: 0 });
  const p = compileLimit({ id: 'l', limit: 100, window: 60 });
  clock.advance(59_900); // the end of one "window"…
  const before = burst(store, 'k', p, 100);
  clock.advance(200); // …and the start of the next
  const after = burst(store, 'k', p, 100);
  assert.equal(before, 100);
  // 200 ms at 100/min refills 0.33 requests: nothing more is admitted.
  assert.equal(after, 0);
  // Over any 60 s span at most burst + 60 s / T = 200, never more; here exactly the refill of one minute.
  clock.advance(60_000);
  assert.equal(burst(store, 'k', p, 200), 100);
});

test('gcra: the burst is honoured, then the sustained rate', () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, sweepMs: 0 });
  const p = compileLimit({ id: 'l', limit: 10, window: '1s', burst: 20 });
  assert.equal(burst(store, 'k', p, 50), 20, 'burst of 20 at once');
  let admitted = 0;
  for (let ms = 0; ms < 10_000; ms += 10) {
    clock.advance(10);
    admitted += burst(store, 'k', p, 5);
  }
  // 10 s at 10/s: 100 more (±1 for where the last tick falls).
  assert.ok(admitted >= 99 && admitted <= 101, `admitted ${admitted}`);
});

test('gcra: remaining, reset and retry-after are exact', () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, sweepMs: 0 });
  const p = compileLimit({ id: 'l', limit: 5, window: '1s' });
  const first = store.consume([{ key: 'k', ...p }], 0);
  assert.deepEqual([first.items[0]?.remaining, first.items[0]?.resetMs], [4, 200]);
  for (let i = 0; i < 4; i++) store.consume([{ key: 'k', ...p }], 0);
  const refused = store.consume([{ key: 'k', ...p }], 0);
  assert.equal(refused.allowed, false);
  assert.equal(refused.items[0]?.retryAfterMs, 200);
  assert.equal(refused.items[0]?.resetMs, 1000);
  clock.advance(200);
  assert.equal(store.consume([{ key: 'k', ...p }], 0).allowed, true);
});

test('gcra: several limits at once (10/s and 20/min): a refusal takes nothing from the others', () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, sweepMs: 0 });
  const perSecond = { key: 's', ...compileLimit({ id: 's', limit: 10, window: 1 }) };
  const perMinute = { key: 'm', ...compileLimit({ id: 'm', limit: 20, window: '1m' }) };
  let ok = 0;
  for (let i = 0; i < 15; i++) if (store.consume([perSecond, perMinute], 0).allowed) ok++;
  assert.equal(ok, 10, 'the per-second limit bites first');
  const refused = store.consume([perSecond, perMinute], 0);
  assert.equal(refused.denied, 0);
  assert.equal(refused.items[1]?.remaining, 10, 'the per-minute limit was not charged for refusals');
  clock.advance(1000);
  for (let i = 0; i < 5; i++) if (store.consume([perSecond, perMinute], 0).allowed) ok++;
  clock.advance(1000);
  for (let i = 0; i < 15; i++) if (store.consume([perSecond, perMinute], 0).allowed) ok++;
  assert.equal(ok, 20, 'then the per-minute limit (20 + 2 s of 20/min refill < 21)');
  assert.equal(store.consume([perSecond, perMinute], 0).denied, 1);
});

test('gcra: a reservation (queue mode) admits with a wait up to maxWaitMs, in schedule order', () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, sweepMs: 0 });
  const p = { key: 'k', ...compileLimit({ id: 'l', limit: 10, window: 1, burst: 1 }) };
  assert.equal(store.consume([p], 250).waitMs, 0);
  const waits = [1, 2, 3].map(() => store.consume([p], 250));
  assert.deepEqual(waits.map((w) => [w.allowed, Math.round(w.waitMs)]), [[true, 100], [true, 200], [false, 0]]);
});
