import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendListField, policyField, retryAfter, stateField } from './headers.ts';
import { compileLimit } from './policy.ts';

test('policyField: draft-ietf-httpapi-ratelimit-headers structured List, q and w', () => {
  // The example: "burst";q=100;w=60
  assert.equal(policyField([compileLimit({ id: 'burst', limit: 100, window: 60 })]), '"burst";q=100;w=60');
  // 10/s with a burst of 20: a quota of 20 restored in 2 s (r never exceeds q)
  assert.equal(policyField([compileLimit({ id: 'per-ip', limit: 10, window: '1s', burst: 20 })]), '"per-ip";q=20;w=2');
  // A refill time that is not whole seconds: the declared limit and window
  assert.equal(policyField([compileLimit({ id: 'x', limit: 3, window: 1, burst: 1 })]), '"x";q=3;w=1');
  assert.equal(
    policyField([compileLimit({ id: 's', limit: 10, window: 1 }), compileLimit({ id: 'h', limit: 1000, window: '1h' })]),
    '"s";q=10;w=1, "h";q=1000;w=3600',
  );
});

test('stateField: r and t as sf-integers; t rounded up; r capped at q', () => {
  const l = compileLimit({ id: 'burst', limit: 100, window: 60 });
  assert.equal(stateField([{ limit: l, remaining: 4, resetMs: 29_001 }]), '"burst";r=4;t=30');
  assert.equal(stateField([{ limit: l, remaining: 500, resetMs: 0 }]), '"burst";r=100;t=0');
});

test('retryAfter: whole seconds, rounded up, at least 1 (RFC 9110 §10.2.3)', () => {
  assert.equal(retryAfter(1), '1');
  assert.equal(retryAfter(1000), '1');
  assert.equal(retryAfter(1001), '2');
  assert.equal(retryAfter(0), '1');
});

test('appendListField: both stages add members to one field', () => {
  const h: Record<string, string | string[]> = {};
  appendListField(h, 'ratelimit', '"a";r=1;t=1');
  appendListField(h, 'ratelimit', '"b";r=2;t=2');
  assert.equal(h.ratelimit, '"a";r=1;t=1, "b";r=2;t=2');
});
