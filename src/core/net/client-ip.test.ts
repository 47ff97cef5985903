import { test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveClientIp } from './client-ip.ts';
import { IpSet, normaliseIp, parseCidr } from './cidr.ts';

const trusted = new IpSet(['10.0.0.0/8', '2001:db8::/32']);

test('resolveClientIp: an untrusted peer is the client, whatever it writes (S5)', () => {
  assert.equal(resolveClientIp('203.0.113.7', { xForwardedFor: '1.2.3.4' }, trusted), '203.0.113.7');
  assert.equal(resolveClientIp('203.0.113.7', { forwarded: 'for=1.2.3.4' }, trusted), '203.0.113.7');
});

test('resolveClientIp: the rightmost untrusted hop behind trusted proxies', () => {
  assert.equal(resolveClientIp('10.0.0.1', { xForwardedFor: '6.6.6.6, 198.51.100.9, 10.0.0.2' }, trusted), '198.51.100.9');
  assert.equal(resolveClientIp('10.0.0.1', { xForwardedFor: '198.51.100.9' }, trusted), '198.51.100.9');
  // A client that forges a leftmost hop gains nothing.
  assert.equal(resolveClientIp('10.0.0.1', { xForwardedFor: '127.0.0.1, 198.51.100.9' }, trusted), '198.51.100.9');
});

test('resolveClientIp: RFC 7239 Forwarded, quoted IPv6 with ports', () => {
  assert.equal(resolveClientIp('10.0.0.1', { forwarded: 'for=192.0.2.60;proto=http, for="[2001:db9::17]:4711"' }, trusted), '2001:db9::17');
  assert.equal(resolveClientIp('10.0.0.1', { forwarded: 'for=198.51.100.3:1234' }, trusted), '198.51.100.3');
  assert.equal(resolveClientIp('10.0.0.1', { forwarded: 'For="198.51.100.4"' }, trusted), '198.51.100.4');
});

test('resolveClientIp: IPv4-mapped IPv6 is normalised (S5)', () => {
  assert.equal(resolveClientIp('::ffff:10.0.0.1', { xForwardedFor: '::ffff:198.51.100.9' }, trusted), '198.51.100.9');
  assert.equal(resolveClientIp('::ffff:203.0.113.7', {}, trusted), '203.0.113.7');
});

test('resolveClientIp: an unidentifiable hop yields "unknown" so that filters deny', () => {
  assert.equal(resolveClientIp('10.0.0.1', { xForwardedFor: 'garbage, 10.0.0.2' }, trusted), 'unknown');
  assert.equal(resolveClientIp('10.0.0.1', { forwarded: 'for=_hidden' }, trusted), 'unknown');
});

test('resolveClientIp: only trusted hops → the leftmost one', () => {
  assert.equal(resolveClientIp('10.0.0.1', { xForwardedFor: '10.1.1.1, 10.0.0.2' }, trusted), '10.1.1.1');
  assert.equal(resolveClientIp('10.0.0.1', {}, trusted), '10.0.0.1');
});

test('normaliseIp and parseCidr', () => {
  assert.equal(normaliseIp('[::1]'), '::1');
  assert.equal(normaliseIp('fe80::1%eth0'), 'fe80::1');
  assert.equal(normaliseIp('::FFFF:1.2.3.4'), '1.2.3.4');
  assert.deepEqual(parseCidr('10.0.0.0/8'), { address: '10.0.0.0', prefix: 8, family: 'ipv4' });
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('10.0.0.0/8/1'), undefined);
  assert.equal(parseCidr('nope'), undefined);
  assert.equal(parseCidr('::/0')?.prefix, 0);
});
