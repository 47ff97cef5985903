import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createMemoryStore } from '../store/memory/index.ts';
import { createKeyring } from '../secrets/keyring.ts';
import { createLocalAccounts, hashPassword, hashRecoveryCode, newRecoveryCodes, passwordProblem, scryptHasher, verifyPasswordHash } from './accounts-local.ts';
import { hotp, stepAt } from './totp.ts';
import type { Store } from '../store/types.ts';

async function setup() {
  const store = createMemoryStore();
  const keyring = createKeyring(randomBytes(32));
  const verified: string[] = [];
  const hasher = { hash: scryptHasher.hash, verify: async (phc: string, pw: string) => (verified.push(phc), scryptHasher.verify(phc, pw)) };
  const accounts = await createLocalAccounts({ store, keyring, hasher });
  return { store, keyring, accounts, verified };
}

async function add(store: Store, id: string, password: string, extra: Record<string, unknown> = {}) {
  await store.users.create({ id, username: id, passwordHash: await hashPassword(password), mustChangePassword: false, roles: [], recoveryCodeHashes: [], disabled: false, createdAt: 1, updatedAt: 1, ...extra });
}

test('verifyPassword: unknown and disabled users verify a dummy hash (the same work, S6) and get the same answer', async () => {
  const { store, accounts, verified } = await setup();
  await add(store, 'alice', 'correct horse battery');
  await add(store, 'mallory', 'correct horse battery', { disabled: true });
  const alice = (await store.users.get('alice'))!.passwordHash;
  assert.deepEqual(await accounts.verifyPassword('nobody', 'whatever-password'), { ok: false });
  assert.equal(verified.length, 1, 'one hash verified for an unknown user');
  const dummy = verified[0];
  assert.notEqual(dummy, alice);
  assert.deepEqual(await accounts.verifyPassword('mallory', 'correct horse battery'), { ok: false });
  assert.equal(verified[1], dummy, 'disabled users take the dummy path too');
  assert.deepEqual(await accounts.verifyPassword('alice', 'wrong password!'), { ok: false });
  assert.equal(verified[2], alice);
  assert.equal((await accounts.verifyPassword('ALICE', 'correct horse battery')).ok, true, 'usernames are case-folded');
});

test('scrypt PHC strings: verify, reject others, NFKC-normalised, never truncated', async () => {
  const phc = await hashPassword('ﬁsh and chips!');
  assert.match(phc, /^\$scrypt\$ln=15,r=8,p=1\$/);
  assert.equal(await verifyPasswordHash(phc, 'fish and chips!'), true, 'NFKC: the ligature equals its letters');
  const long = 'a'.repeat(100);
  const h2 = await hashPassword(long);
  assert.equal(await verifyPasswordHash(h2, 'a'.repeat(99)), false);
  assert.equal(await verifyPasswordHash('$argon2id$garbage', 'x'), false);
});

test('passwordProblem: S7 length bounds and breached list', () => {
  assert.match(passwordProblem('short') ?? '', /at least 8/);
  assert.match(passwordProblem('x'.repeat(129)) ?? '', /at most 128/);
  assert.match(passwordProblem('Password1') ?? '', /breached/);
  assert.equal(passwordProblem('a long unusual pass phrase'), undefined);
});

test('verifyTotp: a code works once (compare-and-set on the step, S7)', async () => {
  const { store, keyring, accounts } = await setup();
  const secret = randomBytes(20);
  await add(store, 'bob', 'correct horse battery', { totpSecretSealed: keyring.seal('totp-secrets', secret, 'bob') });
  const now = 1_800_000_000;
  const code = hotp(secret, stepAt(now));
  assert.equal(await accounts.verifyTotp((await store.users.get('bob'))!, code, now), true);
  assert.equal(await accounts.verifyTotp((await store.users.get('bob'))!, code, now), false, 'replay refused');
  assert.equal(await accounts.verifyTotp((await store.users.get('bob'))!, hotp(secret, stepAt(now) - 1), now), false, 'an older step is refused too');
  assert.equal(await accounts.verifyTotp((await store.users.get('bob'))!, hotp(secret, stepAt(now) + 1), now), true);
});

test('recovery codes: ≥ 112 bits, stored hashed, single use', async () => {
  const codes = newRecoveryCodes();
  assert.equal(codes.length, 10);
  for (const c of codes) assert.equal(c.replace(/-/g, '').length * 4, 128);
  const { store, accounts } = await setup();
  await add(store, 'carol', 'correct horse battery', { recoveryCodeHashes: codes.map(hashRecoveryCode) });
  const carol = (await store.users.get('carol'))!;
  assert.equal(JSON.stringify(carol).includes(codes[0]!), false);
  assert.equal(await accounts.useRecoveryCode(carol, codes[0]!.toUpperCase()), true);
  assert.equal(await accounts.useRecoveryCode(carol, codes[0]!), false);
});

test('enrolTotp: confirmed by a first valid code; stores the sealed secret and fresh recovery codes', async () => {
  const { store, keyring, accounts } = await setup();
  await add(store, 'dave', 'correct horse battery');
  const secret = randomBytes(20);
  const now = 1_800_000_000;
  assert.deepEqual(await accounts.enrolTotp((await store.users.get('dave'))!, secret, '000000', now), { ok: false });
  const done = await accounts.enrolTotp((await store.users.get('dave'))!, secret, hotp(secret, stepAt(now)), now);
  assert.equal(done.ok, true);
  const dave = (await store.users.get('dave'))!;
  assert.deepEqual(keyring.open('totp-secrets', dave.totpSecretSealed!, 'dave'), secret);
  assert.equal(dave.recoveryCodeHashes.length, 10);
  assert.equal(await accounts.verifyTotp(dave, hotp(secret, stepAt(now)), now), false, 'the enrolment code cannot be replayed');
});
