import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createKeyring } from '../secrets/keyring.ts';
import { createSqliteStore } from '../store/sqlite/index.ts';
import { AccountError, createAccountService } from './accounts.ts';
import { createArgon2Hasher, type PasswordHasher } from './password-hash.ts';
import { totpAt } from './totp.ts';
import { base32Decode } from './base32.ts';

const dir = await mkdtemp(path.join(os.tmpdir(), 'rampart-accounts-'));
after(() => rm(dir, { recursive: true, force: true }));
const ISSUER = 'https://localhost:8443/auth';
let n = 0;

/** A hasher that records which PHC strings it verified (the dummy-hash path is asserted, not timed). */
function recordingHasher(): PasswordHasher & { verified: string[] } {
  const inner = createArgon2Hasher();
  const verified: string[] = [];
  return { ...inner, verified, verify: (phc, pw) => (verified.push(phc), inner.verify(phc, pw)) };
}

async function setup(now = () => 1_800_000_000) {
  const store = createSqliteStore({ file: path.join(dir, `a${++n}.db`) });
  await store.migrate();
  const hasher = recordingHasher();
  const accounts = createAccountService({ store, keyring: createKeyring(crypto.randomBytes(32)), issuer: ISSUER, hasher, now });
  after(() => store.close());
  return { store, accounts, hasher };
}

test('createUser: a generated one-time password, changed at first login (S7); the username normalised', async () => {
  const { accounts, store } = await setup();
  const { user, oneTimePassword } = await accounts.createUser({ username: 'Alice', roles: ['reader'] });
  assert.equal(user.username, 'alice');
  assert.equal(user.id, 'alice');
  assert.equal(user.mustChangePassword, true);
  assert.match(oneTimePassword ?? '', /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
  assert.ok(!(await store.users.get('alice'))?.passwordHash.includes(oneTimePassword ?? '?'));
  assert.equal((await accounts.verifyPassword('ALICE', oneTimePassword ?? '')).ok, true, 'case of the username does not matter');
  await assert.rejects(accounts.createUser({ username: 'alice' }), (e: AccountError) => e.code === 'user_exists');
  await assert.rejects(accounts.createUser({ username: 'bad name!' }), (e: AccountError) => e.code === 'username_invalid');
  await assert.rejects(accounts.createUser({ username: 'bob', password: 'password1' }), (e: AccountError) => e.code === 'password_rejected' && /breached/.test(e.message));
});

test('verifyPassword: unknown, wrong and disabled get the same answer, and an unknown user costs one dummy verification (S6)', async () => {
  const { accounts, hasher } = await setup();
  await accounts.createUser({ username: 'alice', password: 'correct horse battery' });
  await accounts.createUser({ username: 'carol', password: 'another good passphrase' });
  await accounts.disableUser('carol');
  const dummy = await hasher.dummyHash();
  hasher.verified.length = 0;
  const unknown = await accounts.verifyPassword('mallory', 'correct horse battery');
  assert.deepEqual(hasher.verified, [dummy], 'the dummy hash was verified for the unknown user');
  const wrong = await accounts.verifyPassword('alice', 'wrong horse battery');
  const disabled = await accounts.verifyPassword('carol', 'another good passphrase');
  assert.equal(hasher.verified.length, 3, 'one verification each, whatever the case');
  assert.notEqual(hasher.verified[1], dummy);
  for (const r of [unknown, wrong, disabled]) assert.equal(r.ok, false);
  assert.deepEqual([unknown, wrong, disabled].map((r) => !r.ok && r.detail), ['unknown_user', 'bad_password', 'disabled'], 'the detail is for logs only');
  hasher.verified.length = 0;
  assert.equal((await accounts.verifyPassword('not a valid name!', 'x')).ok, false);
  assert.equal((await accounts.verifyPassword('alice', 'x'.repeat(100_000))).ok, false);
  assert.equal(hasher.verified.length, 2, 'malformed input still costs one verification');
  const ok = await accounts.verifyPassword('alice', 'correct horse battery');
  assert.equal(ok.ok && ok.user.id, 'alice');
});

test('verifyPassword: a hash with outdated parameters is replaced after a successful login', async () => {
  const { accounts, store } = await setup();
  const weak = await createArgon2Hasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 }).hash('correct horse battery');
  await accounts.createUser({ username: 'alice', password: 'correct horse battery' });
  await store.users.update('alice', { passwordHash: weak });
  assert.equal((await accounts.verifyPassword('alice', 'correct horse battery')).ok, true);
  const now = (await store.users.get('alice'))?.passwordHash ?? '';
  assert.notEqual(now, weak);
  assert.equal(accounts.hasher.needsRehash(now), false);
});

test('changePassword: the policy applies, the same password is refused, mustChangePassword clears', async () => {
  const { accounts } = await setup();
  const { user } = await accounts.createUser({ username: 'alice' });
  const short = await accounts.changePassword(user, 'short');
  assert.equal(short.ok, false);
  assert.deepEqual(!short.ok && short.problems, ['too_short']);
  assert.equal((await accounts.changePassword(user, 'qwertyuiop')).ok, false);
  assert.equal((await accounts.changePassword(user, 'Alice')).ok, false);
  assert.deepEqual(await accounts.changePassword(user, 'a much better passphrase'), { ok: true });
  const after = await accounts.get('alice');
  assert.equal(after?.mustChangePassword, false);
  assert.equal((await accounts.changePassword(after!, 'a much better passphrase')).ok, false, 'not the current one again');
  const temp = await accounts.resetPassword('alice');
  assert.equal((await accounts.get('alice'))?.mustChangePassword, true);
  assert.equal((await accounts.verifyPassword('alice', temp)).ok, true);
});

test('TOTP: enrolment confirmed by a first valid code; the secret is sealed; a code works once; an older one never after a newer one (S7)', async () => {
  let t = 1_800_000_010;
  const { accounts, store } = await setup(() => t);
  const { user } = await accounts.createUser({ username: 'alice' });
  const enrol = accounts.newTotpEnrolment(user);
  assert.match(enrol.uri, /^otpauth:\/\/totp\/localhost%3A8443:alice\?secret=[A-Z2-7]{32}&issuer=localhost%3A8443/);
  assert.deepEqual(base32Decode(enrol.base32), enrol.secret);
  assert.deepEqual(await accounts.enrolTotp(user, enrol.secret, '000000' === totpAt(enrol.secret, t) ? '111111' : '000000', t), { ok: false });
  const first = await accounts.enrolTotp(user, enrol.secret, totpAt(enrol.secret, t), t);
  assert.equal(first.ok, true);
  const stored = (await store.users.get('alice'))!;
  assert.match(stored.totpSecretSealed ?? '', /^rk1\./);
  assert.ok(!(stored.totpSecretSealed ?? '').includes(enrol.base32));
  assert.equal(stored.recoveryCodeHashes.length, 10);

  assert.equal(await accounts.verifyTotp(stored, totpAt(enrol.secret, t), t), false, 'the enrolment code was used already');
  t += 30;
  const code = totpAt(enrol.secret, t);
  assert.equal(await accounts.verifyTotp(stored, code, t), true);
  assert.equal(await accounts.verifyTotp(stored, code, t), false, 'replay');
  t += 30;
  const next = totpAt(enrol.secret, t + 30);
  assert.equal(await accounts.verifyTotp(stored, next, t), true, 'one step ahead is accepted');
  assert.equal(await accounts.verifyTotp(stored, totpAt(enrol.secret, t), t), false, 'an older step after a newer one is refused');
  assert.equal(await accounts.verifyTotp(stored, 'abcdef', t), false);
  assert.equal(await accounts.verifyTotp(stored, 'x'.repeat(10_000), t), false);
});

test('recovery codes: single use, normalised input; resetMfa forgets secret and codes', async () => {
  const t = 1_800_000_010;
  const { accounts, store } = await setup(() => t);
  const { user } = await accounts.createUser({ username: 'alice' });
  const { secret } = accounts.newTotpEnrolment(user);
  const r = await accounts.enrolTotp(user, secret, totpAt(secret, t), t);
  assert.ok(r.ok);
  const [c1, c2] = r.recoveryCodes as [string, string];
  const u = (await store.users.get('alice'))!;
  assert.equal(await accounts.useRecoveryCode(u, c1.toLowerCase().replaceAll('-', ' ')), true);
  assert.equal(await accounts.useRecoveryCode(u, c1), false, 'single use');
  assert.equal(await accounts.useRecoveryCode(u, 'AAAA-BBBB-CCCC-DDDD-EEEE-FFFF'), false);
  const fresh = await accounts.regenerateRecoveryCodes('alice');
  assert.equal(await accounts.useRecoveryCode(u, c2), false, 'old codes die when new ones are issued');
  assert.equal(await accounts.useRecoveryCode(u, fresh[0] as string), true);
  await accounts.resetMfa('alice');
  const reset = (await store.users.get('alice'))!;
  assert.equal(reset.totpSecretSealed, undefined);
  assert.equal(reset.totpLastStep, undefined);
  assert.deepEqual(reset.recoveryCodeHashes, []);
  assert.equal(await accounts.verifyTotp(reset, totpAt(secret, t + 30), t + 30), false);
});

test('disableUser: the user is disabled and the subject (issuer|user|id) is on the deny-list (S3, S9)', async () => {
  const t = 1_800_000_000.4;
  const { accounts, store } = await setup(() => t);
  await accounts.createUser({ username: 'alice' });
  await accounts.disableUser('alice', 'left the company');
  assert.equal((await store.users.get('alice'))?.disabled, true);
  const e = await store.denyList.find('subject', `${ISSUER}|user|alice`);
  assert.equal(e?.reason, 'left the company');
  assert.equal(e?.notBefore, 1_800_000_001, 'tokens issued in this second are withdrawn too');
  await assert.rejects(accounts.disableUser('nobody'), (err: AccountError) => err.code === 'no_such_user');
  await accounts.enableUser('alice');
  assert.equal((await store.users.get('alice'))?.disabled, false);
});

test('TOTP: a secret sealed by an older master key still works and is sealed again with the current one (S4 rotation)', async () => {
  const t = 1_800_000_010;
  const store = createSqliteStore({ file: path.join(dir, `rot${++n}.db`) });
  await store.migrate();
  after(() => store.close());
  const oldMaster = crypto.randomBytes(32);
  const newMaster = crypto.randomBytes(32);
  const before = createAccountService({ store, keyring: createKeyring(oldMaster), issuer: ISSUER, now: () => t });
  const { user } = await before.createUser({ username: 'alice' });
  const { secret } = before.newTotpEnrolment(user);
  assert.ok((await before.enrolTotp(user, secret, totpAt(secret, t), t)).ok);
  const rotated = createKeyring([newMaster, oldMaster]);
  const afterRotation = createAccountService({ store, keyring: rotated, issuer: ISSUER, now: () => t + 30 });
  const sealedOld = (await store.users.get('alice'))!.totpSecretSealed!;
  assert.equal(rotated.needsReseal('totp-secrets', sealedOld), true);
  assert.equal(await afterRotation.verifyTotp((await store.users.get('alice'))!, totpAt(secret, t + 30), t + 30), true);
  let sealed = sealedOld;
  for (let i = 0; i < 50 && sealed === sealedOld; i++) {
    await new Promise((r) => setTimeout(r, 10));
    sealed = (await store.users.get('alice'))!.totpSecretSealed!;
  }
  assert.equal(rotated.needsReseal('totp-secrets', sealed), false);
  assert.deepEqual(createKeyring(newMaster).open('totp-secrets', sealed, 'alice'), secret, 'the old master key can now be dropped');
});
