import { test } from 'node:test';
import assert from 'node:assert/strict';
import { presentedCredentials } from './credentials.ts';

test('presentedCredentials: Bearer token, scheme case-insensitive (RFC 9110 §11.1)', () => {
  assert.deepEqual(presentedCredentials({ authorization: 'Bearer abc.def-_~+/=' }, ''), { kind: 'bearer', token: 'abc.def-_~+/=' });
  assert.deepEqual(presentedCredentials({ authorization: 'bEaReR   abc' }, ''), { kind: 'bearer', token: 'abc' });
});

test('presentedCredentials: malformed Bearer credentials are invalid_request', () => {
  for (const authorization of ['Bearer', 'Bearer ', 'Bearer a b', 'Bearer a"b', 'Bearer\tabc', ' Bearer abc', 'Bearer =abc']) {
    const p = presentedCredentials({ authorization }, '');
    assert.equal(p.kind, 'bad', authorization);
  }
});

test('presentedCredentials: another scheme is no credential', () => {
  assert.deepEqual(presentedCredentials({ authorization: 'Basic YTpi' }, ''), { kind: 'none', note: 'unsupported scheme Basic' });
  assert.deepEqual(presentedCredentials({}, ''), { kind: 'none' });
});

test('presentedCredentials: access_token in the query is refused in any case or encoding (RFC 6750 §2.3)', () => {
  for (const q of ['access_token=x', 'a=1&access_token=', 'ACCESS_TOKEN=x', 'access%5Ftoken=x', 'access%5ftoken=x']) {
    const p = presentedCredentials({ authorization: 'Bearer abc' }, q);
    assert.equal(p.kind === 'bad' && p.code, 'RAMPART_AUTHN_TOKEN_IN_QUERY', q);
  }
  assert.equal(presentedCredentials({}, 'accessible=1&token=2').kind, 'none');
});

test('presentedCredentials: API key, one only, never together with a token', () => {
  assert.deepEqual(presentedCredentials({ 'x-api-key': 'rmp_abc_def' }, ''), { kind: 'api-key', key: 'rmp_abc_def' });
  assert.equal(presentedCredentials({ 'x-api-key': 'a, b' }, '').kind, 'bad');
  assert.equal(presentedCredentials({ 'x-api-key': 'rmp_a', authorization: 'Bearer x' }, '').kind, 'bad');
  assert.deepEqual(presentedCredentials({ 'x-api-key': 'bad key!' }, ''), { kind: 'api-key', key: '' });
  assert.equal(presentedCredentials({ 'x-api-key': '' }, '').kind, 'bad');
});
