import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreaker, type BreakerState } from './breaker.ts';

const cfg = { failureRatio: 0.5, minimumRequests: 4, windowMs: 10_000, openMs: 5_000, halfOpenRequests: 2 };

function setup() {
  const clock = { t: 1_000_000 };
  const changes: string[] = [];
  const b = new CircuitBreaker(cfg, () => clock.t, (from: BreakerState, to: BreakerState) => changes.push(`${from}>${to}`));
  const run = (ok: boolean) => {
    const p = b.acquire();
    assert.ok(p, 'expected a permit');
    b.record(p, ok);
  };
  return { clock, changes, b, run };
}

test('CircuitBreaker stays closed below minimumRequests, whatever the ratio', () => {
  const { b, run } = setup();
  for (let i = 0; i < 3; i++) run(false);
  assert.equal(b.state, 'closed');
});

test('CircuitBreaker opens when the failure ratio over the window reaches failureRatio', () => {
  const { b, run, changes } = setup();
  run(true);
  run(true);
  run(false);
  assert.equal(b.state, 'closed');
  run(false); // 2 of 4 = 0.5
  assert.equal(b.state, 'open');
  assert.equal(b.acquire(), undefined);
  assert.equal(b.retryAfterMs(), 5_000);
  assert.deepEqual(changes, ['closed>open']);
});

test('CircuitBreaker forgets outcomes older than the window', () => {
  const { b, run, clock } = setup();
  run(false);
  run(false);
  run(false);
  clock.t += 11_000;
  run(false); // only one failure in the window now
  assert.equal(b.state, 'closed');
  for (let i = 0; i < 6; i++) run(true);
  run(false);
  assert.equal(b.state, 'closed'); // 2 failures of 8
});

test('CircuitBreaker half-opens after openMs and closes after halfOpenRequests successful probes', () => {
  const { b, run, clock, changes } = setup();
  for (let i = 0; i < 4; i++) run(false);
  clock.t += 4_999;
  assert.equal(b.acquire(), undefined);
  clock.t += 1;
  assert.equal(b.state, 'half-open');
  const p1 = b.acquire();
  const p2 = b.acquire();
  assert.ok(p1?.probe && p2?.probe);
  assert.equal(b.acquire(), undefined, 'only halfOpenRequests probes at once');
  b.record(p1, true);
  assert.equal(b.state, 'half-open');
  b.record(p2, true);
  assert.equal(b.state, 'closed');
  assert.deepEqual(changes, ['closed>open', 'open>half-open', 'half-open>closed']);
  run(false); // the window starts empty after closing
  assert.equal(b.state, 'closed');
});

test('CircuitBreaker re-opens on a failed probe', () => {
  const { b, run, clock } = setup();
  for (let i = 0; i < 4; i++) run(false);
  clock.t += 5_000;
  const p = b.acquire();
  assert.ok(p);
  b.record(p, false);
  assert.equal(b.state, 'open');
  assert.equal(b.retryAfterMs(), 5_000);
});

test('CircuitBreaker ignores outcomes of permits issued before a state change', () => {
  const { b, run, clock } = setup();
  const slow = b.acquire();
  assert.ok(slow);
  for (let i = 0; i < 4; i++) run(false);
  clock.t += 5_000;
  const probe = b.acquire();
  assert.ok(probe);
  b.record(slow, false); // admitted while closed: must not re-open the half-open circuit
  assert.equal(b.state, 'half-open');
  b.release(probe); // the client went away: the probe slot is free again
  assert.ok(b.acquire());
  assert.ok(b.acquire());
  assert.equal(b.acquire(), undefined);
});
