import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyLimit, type Release } from './concurrency.ts';
import { ManualClock } from './clock.ts';

test('ConcurrencyLimit: at most maxInFlight; a bounded FIFO wait; then refused', async () => {
  const clock = new ManualClock();
  const c = new ConcurrencyLimit({ maxInFlight: 2, maxQueue: 2, maxWaitMs: 500 }, clock);
  const r1 = c.acquire() as Release;
  const r2 = c.acquire() as Release;
  assert.equal(typeof r1, 'function');
  assert.equal(c.inFlight, 2);
  const w1 = c.acquire() as Promise<Release | undefined>;
  const w2 = c.acquire() as Promise<Release | undefined>;
  assert.equal(c.acquire(), undefined, 'queue full: refused at once');
  r1();
  const g1 = await w1;
  assert.equal(typeof g1, 'function', 'first waiter first');
  assert.equal(c.waiting, 1);
  clock.advance(500);
  assert.equal(await w2, undefined, 'the wait ran out');
  r2();
  g1!();
  g1!(); // idempotent
  assert.equal(c.inFlight, 0);
  assert.equal(clock.pendingTimers, 0);
});

test('ConcurrencyLimit: a waiter whose client goes away leaves the queue', async () => {
  const c = new ConcurrencyLimit({ maxInFlight: 1, maxQueue: 1, maxWaitMs: 10_000 }, new ManualClock());
  const r = c.acquire() as Release;
  const ac = new AbortController();
  const w = c.acquire(ac.signal) as Promise<Release | undefined>;
  ac.abort();
  assert.equal(await w, undefined);
  assert.equal(c.waiting, 0);
  r();
  assert.equal(c.inFlight, 0);
});
