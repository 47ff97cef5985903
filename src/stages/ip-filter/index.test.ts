import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileIpFilter, ipFilterStage } from './index.ts';

test('compileIpFilter allows everything without lists', () => {
  assert.deepEqual(compileIpFilter({ allow: [], deny: [] })('203.0.113.9'), { allowed: true });
});

test('compileIpFilter honours IPv4 and IPv6 allow lists', () => {
  const f = compileIpFilter({ allow: ['10.0.0.0/8', '2001:db8::/32'], deny: [] });
  assert.equal(f('10.1.2.3').allowed, true);
  assert.equal(f('::ffff:10.1.2.3').allowed, true, 'IPv4-mapped IPv6 is normalised');
  assert.equal(f('2001:db8::1').allowed, true);
  assert.equal(f('11.0.0.1').allowed, false);
  assert.equal(f('2001:db9::1').allowed, false);
});

test('compileIpFilter lets deny win over allow', () => {
  const f = compileIpFilter({ allow: ['10.0.0.0/8'], deny: ['10.6.6.0/24'] });
  assert.deepEqual(f('10.6.6.6'), { allowed: false, reason: 'denylisted' });
  assert.equal(f('10.6.7.1').allowed, true);
});

test('compileIpFilter refuses what it cannot identify', () => {
  const f = compileIpFilter({ allow: [], deny: ['192.0.2.1'] });
  assert.deepEqual(f('unknown'), { allowed: false, reason: 'unidentified' });
});

test('ipFilterStage.check names each bad range', () => {
  const issues = ipFilterStage.check!({ allow: ['10.0.0.0/8', '10.0.0.0/33'], deny: ['nope'], mode: 'enforce' });
  assert.deepEqual(issues.map((i) => i.path), ['allow.1', 'deny.0']);
});
