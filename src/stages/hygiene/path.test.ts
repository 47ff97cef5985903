import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalisePath, encodePath } from './path.ts';

const ok = (raw: string) => {
  const r = normalisePath(raw);
  assert.ok(r.ok, `${raw} should normalise: ${r.ok ? '' : r.reason}`);
  return r.path;
};
const refused = (raw: string) => assert.equal(normalisePath(raw).ok, false, `${raw} should be refused`);

test('normalisePath resolves dot segments and duplicate slashes', () => {
  assert.equal(ok('/api//orders///42'), '/api/orders/42');
  assert.equal(ok('/api/./orders/../users/me'), '/api/users/me');
  assert.equal(ok('/../../etc/passwd'), '/etc/passwd');
  assert.equal(ok('/api/orders/'), '/api/orders/');
  assert.equal(ok('/api/orders/.'), '/api/orders/');
  assert.equal(ok('/'), '/');
  assert.equal(ok('/api/users/O%27Brien'), "/api/users/O'Brien");
  assert.equal(ok('/caf%C3%A9'), '/café');
});

test('normalisePath refuses ambiguous encodings', () => {
  for (const raw of [
    '/api/%2e%2e/admin', '/api/%2E./admin', '/api/.%2e/admin', '/api/orders%2f42', '/api/orders%2F..%2Fadmin',
    '/api/%00', '/api/a%0d%0aX:1', '/api\\admin', '/api/%5cadmin', '/api/%252e%252e/admin', '/api/%c0%ae%c0%ae/admin',
    '/api/%e0%80%af', '/api/%ed%a0%80', '/api/%zz', '/api/%4', '/api/orders;jsessionid=1', '/api/orders%3bx',
    'api/no-slash', '/api/a b', '/api/\u00e9', '/api/%c2%85', '/api/%e2%80%a8',
  ]) refused(raw);
});

test('encodePath round-trips through normalisePath', () => {
  for (const p of ["/api/users/O'Brien", '/café/ü', '/a b/c', '/api/orders/42', '/x:y@z=1']) {
    const wire = encodePath(p);
    assert.match(wire, /^[\x21-\x7e]+$/);
    assert.equal(ok(wire), p);
  }
  assert.equal(encodePath('/a?b#c'), '/a%3Fb%23c');
});

test('encodePath leaves a path of wire-safe characters as it is, exactly as the full encoding would', () => {
  // Every printable ASCII character, alone and between others: the shortcut must agree with the
  // per-segment encoding on each one.
  const full = (p: string) => p.split('/').map((seg) => encodeURIComponent(seg).replace(/%(2[146-9A-C]|3A|40|3D)/gi, (m) => decodeURIComponent(m))).join('/');
  for (let c = 0x20; c <= 0x7e; c++) {
    const p = `/a${String.fromCharCode(c)}b/${String.fromCharCode(c)}`;
    assert.equal(encodePath(p), full(p), JSON.stringify(p));
  }
  for (const p of ['/api/orders/42', "/x:y@z=1/!$&'()*+,", '/a;b', '/é', '/%41']) assert.equal(encodePath(p), full(p), p);
});
