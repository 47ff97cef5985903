import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ActiveHealth, PassiveHealth } from './health-state.ts';

const passive = { unhealthyThreshold: 3, ejectMs: 1_000 };

test('PassiveHealth ejects after unhealthyThreshold consecutive failures, for ejectMs', () => {
  const h = new PassiveHealth();
  assert.equal(h.record(false, passive, 0), false);
  assert.equal(h.record(false, passive, 0), false);
  assert.equal(h.record(true, passive, 0), false); // a success resets the count
  assert.equal(h.record(false, passive, 0), false);
  assert.equal(h.record(false, passive, 0), false);
  assert.equal(h.record(false, passive, 10), true);
  assert.equal(h.available(500), false);
  assert.equal(h.ejectedFor(500), 510);
  assert.equal(h.record(false, passive, 600), false, 'a late failure does not extend the ejection');
  assert.equal(h.available(1_010), true);
  assert.equal(h.record(false, passive, 1_010), false, 'back with a fresh count');
});

test('ActiveHealth goes down and up only after the thresholds', () => {
  const h = new ActiveHealth();
  const cfg = { healthyThreshold: 2, unhealthyThreshold: 3 };
  assert.equal(h.healthy, true);
  assert.equal(h.record(false, cfg), undefined);
  assert.equal(h.record(false, cfg), undefined);
  assert.equal(h.record(true, cfg), undefined); // streak broken
  assert.equal(h.record(false, cfg), undefined);
  assert.equal(h.record(false, cfg), undefined);
  assert.equal(h.record(false, cfg), 'down');
  assert.equal(h.healthy, false);
  assert.equal(h.record(true, cfg), undefined);
  assert.equal(h.record(true, cfg), 'up');
  assert.equal(h.healthy, true);
});
