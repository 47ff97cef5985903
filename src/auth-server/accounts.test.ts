import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createMemoryStore } from '../store/memory/index.ts';
import { createKeyring } from '../secrets/keyring.ts';
import { createAccountService } from '../accounts/accounts.ts';
import { createArgon2Hasher, type PasswordHasher } from '../accounts/password-hash.ts';
import type { LoginAccounts } from './accounts.ts';

test('the account service fills the LoginAccounts port; unknown and disabled users take the dummy-hash path (S6, asserted not timed)', async () => {
  const store = createMemoryStore();
  const keyring = createKeyring(randomBytes(32));
  const real = createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
  const verified: string[] = [];
  const hasher: PasswordHasher = { ...real, verify: async (phc, pw) => (verified.push(phc), real.verify(phc, pw)) };
  const accounts: LoginAccounts = createAccountService({ store, keyring, issuer: 'https://login.example', hasher });
  const now = 1;
  await store.users.create({ id: 'alice', username: 'alice', passwordHash: await real.hash('correct horse battery'), mustChangePassword: false, roles: [], recoveryCodeHashes: [], disabled: false, createdAt: now, updatedAt: now });
  const dummy = await real.dummyHash();
  assert.deepEqual((await accounts.verifyPassword('nobody', 'whatever password')).ok, false);
  assert.equal(verified.at(-1), dummy, 'an unknown user verifies the dummy hash');
  assert.equal((await accounts.verifyPassword('alice', 'wrong password here')).ok, false);
  assert.notEqual(verified.at(-1), dummy);
  assert.equal((await accounts.verifyPassword('alice', 'correct horse battery')).ok, true);
  assert.equal(verified.length, 3, 'one verification per attempt, whatever the outcome');
});
