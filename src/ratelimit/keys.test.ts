import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ipKey, limitKey, safePart } from './keys.ts';
import { compileLimit } from './policy.ts';
import { ANONYMOUS, type Principal } from '../core/principal.ts';

const user = (subject: string, issuer = 'https://id.example', extra: Partial<Principal> = {}): Principal =>
  ({ kind: 'user', subject, issuer, roles: [], scopes: [], amr: [], claims: {}, ...extra }) as Principal;

test('ipKey: IPv6 grouped by /64 (or the prefix asked), IPv4 as is, garbage as "unknown"', () => {
  assert.equal(ipKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  assert.equal(ipKey('2001:db8:1:2:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64');
  assert.equal(ipKey('2001:db8::1'), '2001:db8:0:0::/64');
  assert.equal(ipKey('2001:db8:1:2:aaaa::1', 48), '2001:db8:1::/48');
  assert.equal(ipKey('2001:db8:1:2:aaaa::1', 56), '2001:db8:1:0::/56');
  assert.equal(ipKey('2001:db8:1:2ff::1', 56), '2001:db8:1:200::/56');
  assert.equal(ipKey('::ffff:1.2.3.4', 128), '::ffff:1.2.3.4');
  assert.equal(ipKey('203.0.113.7'), '203.0.113.7');
  assert.equal(ipKey('unknown'), 'unknown');
  assert.equal(ipKey('1:2:3'), 'unknown');
});

test('limitKey S3: principals are keyed by issuer + kind + subject, never the subject alone', () => {
  const l = compileLimit({ id: 'u', limit: 1, window: 1, by: 'user' });
  const ctx = (principal: Principal) => ({ clientIp: '203.0.113.7', principal, headers: {} });
  const local = limitKey(l, ctx(user('alice', 'https://rampart.local')));
  const external = limitKey(l, ctx(user('alice', 'https://idp.example')));
  assert.notEqual(local, external, 'an external IdP’s alice is not our alice');
  const client = compileLimit({ id: 'c', limit: 1, window: 1, by: 'principal' });
  assert.notEqual(
    limitKey(client, ctx({ ...user('alice'), kind: 'client' })),
    limitKey(client, ctx(user('alice'))),
    'a client id equal to a user id is another key',
  );
});

test('limitKey: anonymous falls back to the client IP (fallback: ip) or skips the limit', () => {
  const ip = limitKey(compileLimit({ id: 'u', limit: 1, window: 1, by: 'user' }), { clientIp: '203.0.113.7', principal: ANONYMOUS, headers: {} });
  assert.equal(ip, 'ip=203.0.113.7');
  const skip = limitKey(compileLimit({ id: 'u', limit: 1, window: 1, by: 'user', fallback: 'skip' }), { clientIp: '203.0.113.7', principal: ANONYMOUS, headers: {} });
  assert.equal(skip, undefined);
});

test('limitKey: by client / key use the OAuth client or API key behind a user token', () => {
  const c = compileLimit({ id: 'c', limit: 1, window: 1, by: 'client' });
  const k = compileLimit({ id: 'k', limit: 1, window: 1, by: 'key' });
  const viaApp = user('alice', 'https://id.example', { clientId: 'mobile-app' });
  const viaApp2 = user('bob', 'https://id.example', { clientId: 'mobile-app' });
  const ctx = (principal: Principal) => ({ clientIp: '203.0.113.7', principal, headers: {} });
  assert.equal(limitKey(c, ctx(viaApp)), limitKey(c, ctx(viaApp2)), 'one budget per OAuth client');
  const key = { ...user('svc'), kind: 'key' as const, keyId: 'k1' };
  assert.match(limitKey(k, ctx(key)) ?? '', /^key=/);
});

test('limitKey S5: a header-keyed limit is always combined with the IP or the principal', () => {
  const h = compileLimit({ id: 'h', limit: 1, window: 1, by: 'header', header: 'X-Tenant' });
  const a = limitKey(h, { clientIp: '203.0.113.7', principal: ANONYMOUS, headers: { 'x-tenant': 'acme' } });
  const b = limitKey(h, { clientIp: '198.51.100.1', principal: ANONYMOUS, headers: { 'x-tenant': 'acme' } });
  assert.notEqual(a, b, 'the same header value from two addresses is two keys');
  const hp = compileLimit({ id: 'h', limit: 1, window: 1, by: 'header', header: 'X-Tenant', combineWith: 'principal' });
  const alice1 = limitKey(hp, { clientIp: '203.0.113.7', principal: user('alice'), headers: { 'x-tenant': 'acme' } });
  const alice2 = limitKey(hp, { clientIp: '198.51.100.1', principal: user('alice'), headers: { 'x-tenant': 'acme' } });
  assert.equal(alice1, alice2, 'combined with the principal, the address does not matter');
  assert.match(alice1 ?? '', /^user=/);
});

test('safePart: odd or long values are hashed (no separators, bounded length)', () => {
  assert.equal(safePart('acme'), 'acme');
  assert.match(safePart('a:b\nc|d'), /^#[A-Za-z0-9_-]{32}$/);
  assert.match(safePart('x'.repeat(500)), /^#/);
  assert.notEqual(safePart('#abc'), '#abc', 'a value cannot pose as a hash');
});
