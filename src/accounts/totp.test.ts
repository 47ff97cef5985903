import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hotp, matchTotp, otpauthUri, totpAt, totpStep } from './totp.ts';
import { base32Decode, base32Encode } from './base32.ts';

const RFC_SECRET = Buffer.from('12345678901234567890', 'ascii');

test('hotp: RFC 4226 Appendix D test values', () => {
  const expected = ['755224', '287082', '359152', '969429', '338314', '254676', '287922', '162583', '399871', '520489'];
  expected.forEach((code, counter) => assert.equal(hotp(RFC_SECRET, counter), code));
});

test('totp: RFC 6238 Appendix B test vectors (SHA-1, 8 digits)', () => {
  const vectors: Array<[number, string]> = [[59, '94287082'], [1111111109, '07081804'], [1111111111, '14050471'], [1234567890, '89005924'], [2000000000, '69279037'], [20000000000, '65353130']];
  for (const [t, code] of vectors) assert.equal(hotp(RFC_SECRET, totpStep(t), 8), code, `T=${t}`);
});

test('matchTotp: accepts the current step and one step either side (RFC 6238 §5.2), nothing further', () => {
  const t = 1_800_000_015;
  const step = totpStep(t);
  assert.equal(matchTotp(RFC_SECRET, totpAt(RFC_SECRET, t), t), step);
  assert.equal(matchTotp(RFC_SECRET, totpAt(RFC_SECRET, t - 30), t), step - 1);
  assert.equal(matchTotp(RFC_SECRET, totpAt(RFC_SECRET, t + 30), t), step + 1);
  assert.equal(matchTotp(RFC_SECRET, totpAt(RFC_SECRET, t - 60), t), undefined);
  assert.equal(matchTotp(RFC_SECRET, totpAt(RFC_SECRET, t + 60), t), undefined);
});

test('matchTotp: malformed codes are refused without error', () => {
  const t = 1_800_000_015;
  for (const bad of ['', '12345', '1234567', 'abcdef', '１２３４５６', '12 34 5', '-12345', '1e5000', '0x1234']) {
    assert.equal(matchTotp(RFC_SECRET, bad, t), undefined, JSON.stringify(bad));
  }
  const code = totpAt(RFC_SECRET, t);
  assert.equal(matchTotp(RFC_SECRET, `${code.slice(0, 3)} ${code.slice(3)}`, t), totpStep(t), 'spaces typed in the middle are ignored');
});

test('base32: RFC 4648 §10 test vectors, both ways', () => {
  const vectors: Array<[string, string]> = [['', ''], ['f', 'MY'], ['fo', 'MZXQ'], ['foo', 'MZXW6'], ['foob', 'MZXW6YQ'], ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI']];
  for (const [plain, encoded] of vectors) {
    assert.equal(base32Encode(Buffer.from(plain)), encoded);
    assert.equal(base32Decode(encoded)?.toString(), plain);
    assert.equal(base32Decode(`${encoded.toLowerCase()}===`)?.toString(), plain);
  }
  assert.equal(base32Decode('MZ1W'), undefined);
});

test('otpauthUri: the Key Uri Format authenticator apps read', () => {
  const uri = new URL(otpauthUri(RFC_SECRET, 'alice@example.com', 'localhost:8443'));
  assert.equal(uri.protocol, 'otpauth:');
  assert.equal(uri.host, 'totp');
  assert.equal(decodeURIComponent(uri.pathname), '/localhost:8443:alice@example.com');
  assert.equal(uri.searchParams.get('secret'), 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ');
  assert.equal(uri.searchParams.get('issuer'), 'localhost:8443');
  assert.equal(uri.searchParams.get('algorithm'), 'SHA1');
  assert.equal(uri.searchParams.get('digits'), '6');
  assert.equal(uri.searchParams.get('period'), '30');
  assert.doesNotMatch(otpauthUri(RFC_SECRET, 'a b', 'Acme Corp'), /\+/, 'spaces are %20, not +');
});
