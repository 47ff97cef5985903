/**
 * The ports the other parts code against are implemented here: the login pages' LoginAccounts
 * (src/auth-server/accounts.ts) by the account service, the authn stage's ApiKeyVerifier
 * (src/core/authn-port.ts) by the API-key service. Type-checked (tsc fails if a port drifts) and
 * exercised once end to end.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { LoginAccounts } from '../auth-server/accounts.ts';
import type { ApiKeyVerifier } from '../core/authn-port.ts';
import { createKeyring } from '../secrets/keyring.ts';
import { createMemoryStore } from '../store/memory/index.ts';
import { createAccountService } from './accounts.ts';
import { createApiKeyService } from './api-keys.ts';

test('the account service is a LoginAccounts and the API-key service an ApiKeyVerifier', async () => {
  const store = createMemoryStore();
  const keyring = createKeyring(crypto.randomBytes(32));
  const login: LoginAccounts = createAccountService({ store, keyring, issuer: 'https://localhost:8443/auth' });
  const keys = createApiKeyService({ store, keyring });
  const verifier: ApiKeyVerifier = keys;
  try {
    assert.deepEqual(await login.verifyPassword('nobody', 'x'.repeat(12)), { ok: false, detail: 'unknown_user' });
    const { key } = await keys.create({ name: 'svc', roles: ['svc'] });
    assert.equal((await verifier.verify(key, Date.now() / 1000)).ok, true);
  } finally {
    await keys.close();
  }
});
