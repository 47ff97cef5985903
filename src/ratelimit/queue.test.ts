import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DelayQueue } from './queue.ts';
import { ManualClock } from './clock.ts';
import { MemoryStore } from './memory-store.ts';
import { compileLimit } from './policy.ts';

const never = new AbortController().signal;

test('DelayQueue: bounded in length; one key holds at most maxPerKey places (fair across keys)', () => {
  const q = new DelayQueue({ maxLength: 10, maxPerKey: 3, maxWaitMs: 1000 }, new ManualClock());
  const greedy = [1, 2, 3, 4, 5].map(() => q.take('greedy'));
  assert.equal(greedy.filter(Boolean).length, 3, 'one client cannot fill the queue');
  const others = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map((k) => q.take(k));
  assert.equal(others.filter(Boolean).length, 7, 'the others get the remaining places');
  assert.equal(q.length, 10);
  assert.equal(q.take('late'), undefined, 'full');
});

test('DelayQueue: waits are bounded by the store reservation and leave in order per key', async () => {
  const clock = new ManualClock();
  const store = new MemoryStore({ clock, sweepMs: 0 });
  const q = new DelayQueue({ maxLength: 100, maxPerKey: 100, maxWaitMs: 500 }, clock);
  const p = compileLimit({ id: 'l', limit: 10, window: 1, burst: 1 }); // one every 100 ms
  const order: string[] = [];
  const waits: number[] = [];
  const pending: Array<Promise<void>> = [];
  for (let i = 0; i < 8; i++) {
    const key = i % 2 === 0 ? 'A' : 'B';
    const t = q.take(key)!;
    const r = store.consume([{ key, ...p }], q.settings.maxWaitMs);
    if (!r.allowed) {
      q.release(t);
      order.push(`${key}${i}:refused`);
      continue;
    }
    waits.push(r.waitMs);
    pending.push(q.wait(t, r.waitMs, never).then(() => void order.push(`${key}${i}@${clock.now() - 1_000_000}`)));
  }
  assert.ok(waits.every((w) => w <= 500), 'no wait beyond maxWaitMs');
  for (let step = 0; step <= 100; step++) {
    clock.advance(step === 0 ? 0 : 10);
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(pending);
  // Per key: immediate, then +100 ms each; A and B do not delay each other.
  assert.deepEqual(order.filter((o) => o.startsWith('A')), ['A0@0', 'A2@100', 'A4@200', 'A6@300']);
  assert.deepEqual(order.filter((o) => o.startsWith('B')), ['B1@0', 'B3@100', 'B5@200', 'B7@300']);
  assert.equal(q.length, 0);
});

test('DelayQueue: a key leaves in arrival order even when a later wait is shorter', async () => {
  const clock = new ManualClock();
  const q = new DelayQueue({ maxLength: 10, maxPerKey: 10, maxWaitMs: 1000 }, clock);
  const order: number[] = [];
  const t1 = q.take('k')!;
  const t2 = q.take('k')!;
  const p1 = q.wait(t1, 300, never).then(() => void order.push(1));
  const p2 = q.wait(t2, 100, never).then(() => void order.push(2));
  clock.advance(100);
  await Promise.resolve();
  assert.deepEqual(order, [], 'the second waits for the first');
  clock.advance(200);
  await Promise.all([p1, p2]);
  assert.deepEqual(order, [1, 2]);
});

test('DelayQueue: a client that goes away gives its place back and does not block its key', async () => {
  const clock = new ManualClock();
  const q = new DelayQueue({ maxLength: 2, maxPerKey: 2, maxWaitMs: 1000 }, clock);
  const ac = new AbortController();
  const t1 = q.take('k')!;
  const t2 = q.take('k')!;
  const p1 = q.wait(t1, 500, ac.signal);
  const p2 = q.wait(t2, 100, never);
  ac.abort();
  assert.equal(await p1, false);
  clock.advance(100);
  assert.equal(await p2, true);
  assert.equal(q.length, 0);
  assert.equal(clock.pendingTimers, 0);
});
