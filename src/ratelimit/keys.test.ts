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

test('ipKey: every way of writing an IPv6 address gives the same network as the text parsed the long way', () => {
  // The parse of RFC 4291 §2.2 spelled out with split and map, as a reference.
  const words = (ip: string): number[] => {
    let s = ip.toLowerCase();
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
    if (v4?.[1]) {
      const b = v4[1].split('.').map(Number) as [number, number, number, number];
      s = s.slice(0, -v4[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
    }
    const [head, tail] = s.split('::') as [string, string | undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const fill = tail === undefined ? 0 : 8 - h.length - t.length;
    return [...h, ...new Array<string>(fill).fill('0'), ...t].map((x) => parseInt(x, 16));
  };
  const reference = (ip: string, prefix: number): string => {
    const w = words(ip);
    const out = w.slice(0, prefix >> 4).map((x) => x.toString(16));
    if (prefix & 15) out.push(((w[prefix >> 4] as number) & ((0xffff << (16 - (prefix & 15))) & 0xffff)).toString(16));
    return `${out.join(':')}::/${prefix}`;
  };
  const samples = ['::', '::1', '1::', '1:2::', '::1:2', 'A:B:C:D:E:F:1:2', '2001:DB8::FFFF:1.2.3.4', '::ffff:10.0.0.1', '64:ff9b::192.0.2.33', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', 'fe80::1:2:3:4', '1:0:0:0:0:0:0:8', '1:2:3:4:5:6:1.2.3.4', '2001:0db8:0:0::1', '2001:DB8:1:2::1', '0:0:0:0::1', '00:1:2:3:4:5:6:7', '1:2:3:4:5:6:7.8.9.10'];
  // And addresses with every position of the `::` and random words, deterministically.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 0x10000).toString(16);
  for (let k = 0; k < 300; k++) {
    const w = Array.from({ length: 8 }, rnd);
    const from = k % 8;
    const to = from + (k % 3);
    samples.push(to > from && to <= 8 ? [...w.slice(0, from), '', ...w.slice(to)].join(':').replace(/^:(?=[^:])/, '::').replace(/(?<=[^:]):$/, '::') : w.join(':'));
  }
  for (const ip of samples) {
    for (const prefix of [32, 48, 56, 64, 96, 112, 127]) assert.equal(ipKey(ip, prefix), reference(ip, prefix), `${ip}/${prefix}`);
  }
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
