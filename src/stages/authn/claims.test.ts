import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkClaims, typMatches, timeWindow, type ClaimRules } from './claims.ts';

const rules: ClaimRules = { issuer: 'https://idp.example', audiences: new Set(['api']), maxLifetimeSeconds: 600, clockSkewSeconds: 30, requireJti: true };
const now = 1_700_000_000;
const good = { iss: 'https://idp.example', aud: 'api', sub: 'alice', iat: now - 10, exp: now + 290, jti: 'j1' };

test('checkClaims accepts a well-formed access token', () => {
  assert.equal(checkClaims(good, rules, now), undefined);
  assert.equal(checkClaims({ ...good, aud: ['other', 'api'] }, rules, now), undefined);
});

test('checkClaims: iss must match exactly (RFC 9068 §4)', () => {
  for (const iss of ['https://idp.example/', 'https://IDP.example', 'https://evil.example', undefined, ['https://idp.example']]) {
    assert.equal(checkClaims({ ...good, iss }, rules, now), 'iss_mismatch', String(iss));
  }
});

test('checkClaims: aud must contain an accepted audience', () => {
  for (const aud of ['other', [], ['x', 'y'], undefined, 5, [5]]) assert.equal(checkClaims({ ...good, aud }, rules, now), 'aud_mismatch', JSON.stringify(aud));
});

test('checkClaims: exp and iat required, expiry and nbf with skew, iat not in the future', () => {
  const { exp: _e, ...noExp } = good;
  assert.equal(checkClaims(noExp, rules, now), 'exp_missing');
  const { iat: _i, ...noIat } = good;
  assert.equal(checkClaims(noIat, rules, now), 'iat_missing');
  assert.equal(checkClaims({ ...good, exp: 'soon' }, rules, now), 'claims_invalid');
  assert.equal(checkClaims({ ...good, exp: now - 31, iat: now - 100 }, rules, now), 'expired');
  assert.equal(checkClaims({ ...good, exp: now - 29, iat: now - 100 }, rules, now), undefined, 'inside the skew');
  assert.equal(checkClaims({ ...good, nbf: now + 31 }, rules, now), 'nbf_future');
  assert.equal(checkClaims({ ...good, nbf: now + 29 }, rules, now), undefined);
  assert.equal(checkClaims({ ...good, iat: now + 60, exp: now + 200 }, rules, now), 'iat_future');
});

test('checkClaims: lifetime over the maximum is refused even while valid', () => {
  assert.equal(checkClaims({ ...good, iat: now - 10, exp: now - 10 + 601 }, rules, now), 'lifetime_exceeded');
  assert.equal(checkClaims({ ...good, iat: now - 10, exp: now - 10 + 600 }, rules, now), undefined);
});

test('checkClaims: sub and (built-in) jti required; ID tokens typed by a claim are refused', () => {
  assert.equal(checkClaims({ ...good, sub: '' }, rules, now), 'sub_missing');
  assert.equal(checkClaims({ ...good, sub: 7 }, rules, now), 'sub_missing');
  const { jti: _j, ...noJti } = good;
  assert.equal(checkClaims(noJti, rules, now), 'jti_missing');
  assert.equal(checkClaims(noJti, { ...rules, requireJti: false }, now), undefined);
  assert.equal(checkClaims({ ...good, typ: 'ID' }, rules, now), 'id_token');
  assert.equal(checkClaims({ ...good, token_use: 'id' }, rules, now), 'id_token');
});

test('checkClaims: sender-constrained tokens (cnf: DPoP jkt, mTLS x5t#S256) are refused without their proof', () => {
  assert.equal(checkClaims({ ...good, cnf: { jkt: 'abc' } }, rules, now), 'sender_constrained');
  assert.equal(checkClaims({ ...good, cnf: { 'x5t#S256': 'abc' } }, rules, now), 'sender_constrained');
});

test('typMatches: at+jwt and application/at+jwt, case-insensitive (RFC 7515 §4.1.9)', () => {
  assert.equal(typMatches('at+jwt', 'at+jwt'), true);
  assert.equal(typMatches('application/AT+JWT', 'at+jwt'), true);
  assert.equal(typMatches('JWT', 'at+jwt'), false);
  assert.equal(typMatches(undefined, 'at+jwt'), false);
  assert.equal(typMatches('jwt', 'JWT'), true);
  assert.equal(typMatches('at+jwt', 'JWT'), false);
  assert.equal(typMatches(undefined, 'any'), true);
});

test('timeWindow', () => {
  assert.equal(timeWindow(100, undefined, 99, 0), undefined);
  assert.equal(timeWindow(100, undefined, 100, 0), 'expired');
  assert.equal(timeWindow(100, 50, 49, 0), 'nbf_future');
});
