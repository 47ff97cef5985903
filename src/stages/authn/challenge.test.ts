import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bearerChallenge, credentialsRequired, insufficientScope, invalidToken, stepUpRequired } from './challenge.ts';

const s = { realm: 'rampart', bearer: true, apiKey: false };

test('bearerChallenge: no error code without credentials (RFC 6750 §3.1)', () => {
  assert.equal(credentialsRequired(s).headers['www-authenticate'], 'Bearer realm="rampart"');
  assert.equal(credentialsRequired({ ...s, apiKey: true }).headers['www-authenticate'], 'Bearer realm="rampart", ApiKey realm="rampart", header="X-API-Key"');
});

test('bearerChallenge: invalid_token with a description, quotes and backslashes dropped', () => {
  const e = invalidToken(s, 'RAMPART_AUTHN_TOKEN_EXPIRED', 'expired');
  assert.equal(e.status, 401);
  assert.equal(e.headers['www-authenticate'], 'Bearer realm="rampart", error="invalid_token", error_description="The access token expired"');
  assert.equal(bearerChallenge({ realm: 'a"b\\c', error: 'invalid_token', description: 'x"y' }), 'Bearer realm="abc", error="invalid_token", error_description="xy"');
});

test('insufficientScope: 403 with scope (RFC 6750 §3.1)', () => {
  const e = insufficientScope('rampart', ['orders:read', 'orders:write']);
  assert.equal(e.status, 403);
  assert.equal(e.code, 'RAMPART_AUTHN_INSUFFICIENT_SCOPE');
  assert.match(e.headers['www-authenticate'] as string, /error="insufficient_scope", error_description="[^"]+", scope="orders:read orders:write"$/);
});

test('stepUpRequired: RFC 9470 §3 challenge with acr_values and max_age', () => {
  const e = stepUpRequired('rampart', { acrValues: ['urn:rampart:mfa'], maxAge: 300 });
  assert.equal(e.status, 401);
  assert.equal(e.headers['www-authenticate'], 'Bearer realm="rampart", error="insufficient_user_authentication", error_description="A stronger authentication is required", acr_values="urn:rampart:mfa", max_age=300');
  assert.match(stepUpRequired('rampart', { maxAge: 60 }).headers['www-authenticate'] as string, /A more recent authentication is required", max_age=60$/);
});
