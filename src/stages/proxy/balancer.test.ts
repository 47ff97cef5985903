import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Balancer } from './balancer.ts';

test('Balancer.pick spreads by weight without bursts', () => {
  const b = new Balancer([5, 1, 1]);
  const seq = Array.from({ length: 7 }, () => b.pick(() => true));
  assert.deepEqual(seq, [0, 0, 1, 0, 2, 0, 0]);
});

test('Balancer.pick alternates equal weights and skips ineligible targets', () => {
  const b = new Balancer([1, 1, 1]);
  assert.deepEqual([b.pick(() => true), b.pick(() => true), b.pick(() => true), b.pick(() => true)], [0, 1, 2, 0]);
  const onlyOdd = (i: number) => i % 2 === 1;
  assert.deepEqual([b.pick(onlyOdd), b.pick(onlyOdd)], [1, 1]);
  assert.equal(b.pick(() => false), undefined);
});
