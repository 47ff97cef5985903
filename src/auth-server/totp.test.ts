import { test } from 'node:test';
import assert from 'node:assert/strict';
import { base32, fromBase32, hotp, matchTotp, otpauthUri, TOTP_PERIOD } from './totp.ts';

// RFC 6238 Appendix B test vectors (SHA-1, seed "12345678901234567890"), last 6 of the 8 digits.
const SEED = Buffer.from('12345678901234567890');
const VECTORS: Array<[number, string]> = [
  [59, '94287082'],
  [1111111109, '07081804'],
  [1111111111, '14050471'],
  [1234567890, '89005924'],
  [2000000000, '69279037'],
  [20000000000, '65353130'],
];

test('hotp: RFC 6238 Appendix B vectors (6 digits)', () => {
  for (const [t, code] of VECTORS) assert.equal(hotp(SEED, Math.floor(t / TOTP_PERIOD)), code.slice(2), `T=${t}`);
});

test('hotp: RFC 4226 Appendix D vectors', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  expected.forEach((code, i) => assert.equal(hotp(SEED, i), code));
});

test('matchTotp: ±1 step accepted, ±2 refused, malformed refused', () => {
  const t = 1_700_000_000;
  const step = Math.floor(t / 30);
  assert.equal(matchTotp(SEED, hotp(SEED, step), t), step);
  assert.equal(matchTotp(SEED, hotp(SEED, step - 1), t), step - 1);
  assert.equal(matchTotp(SEED, hotp(SEED, step + 1), t), step + 1);
  assert.equal(matchTotp(SEED, hotp(SEED, step - 2), t), undefined);
  assert.equal(matchTotp(SEED, hotp(SEED, step + 2), t), undefined);
  for (const bad of ['', '12345', '1234567', 'abcdef', ' 12345', '１２３４５６']) assert.equal(matchTotp(SEED, bad, t), undefined);
});

test('base32: RFC 4648 §10 vectors round-trip', () => {
  assert.equal(base32(Buffer.from('foobar')), 'MZXW6YTBOI');
  assert.equal(base32(Buffer.from('f')), 'MY');
  assert.deepEqual(fromBase32('MZXW6YTBOI'), Buffer.from('foobar'));
  assert.deepEqual(fromBase32('mzxw 6ytb oi'), Buffer.from('foobar'));
});

test('otpauthUri: Key Uri Format with issuer, SHA1, 6 digits, 30 s', () => {
  const u = new URL(otpauthUri('localhost', 'alice', SEED));
  assert.equal(u.protocol, 'otpauth:');
  assert.equal(u.host, 'totp');
  assert.equal(decodeURIComponent(u.pathname), '/localhost:alice');
  assert.equal(u.searchParams.get('secret'), base32(SEED));
  assert.equal(u.searchParams.get('digits'), '6');
  assert.equal(u.searchParams.get('period'), '30');
});
