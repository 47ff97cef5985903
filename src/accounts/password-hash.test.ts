import { test } from 'node:test';
import assert from 'node:assert/strict';
import { scryptSync } from 'node:crypto';
import { ARGON2_PARAMS, createArgon2Hasher } from './password-hash.ts';

const hasher = createArgon2Hasher();

test('hash: an Argon2id PHC string with the documented parameters and a random salt', async () => {
  const a = await hasher.hash('correct horse battery staple');
  const b = await hasher.hash('correct horse battery staple');
  assert.match(a, new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_PARAMS.memoryCost},t=${ARGON2_PARAMS.timeCost},p=${ARGON2_PARAMS.parallelism}\\$[A-Za-z0-9+/]{22}\\$[A-Za-z0-9+/]{43}$`));
  assert.notEqual(a, b, 'salted');
  assert.equal(hasher.needsRehash(a), false);
});

test('verify: right and wrong passwords; NFKC-equal passwords are equal; nothing is truncated', async () => {
  const long = 'Ünïcödé pass phrase '.repeat(6);
  const phc = await hasher.hash(long);
  assert.equal(await hasher.verify(phc, long), true);
  assert.equal(await hasher.verify(phc, `${long.slice(0, -1)}X`), false, 'the last character counts');
  assert.equal(await hasher.verify(phc, long.slice(0, 72)), false, 'no 72-byte truncation (bcrypt’s)');
  const lig = await hasher.hash('\ufb01ne print');
  assert.equal(await hasher.verify(lig, 'fine print'), true, 'U+FB01 is "fi" after NFKC');
});

test('verify: a malformed or foreign hash is false, never an exception', async () => {
  for (const phc of ['', 'plain', '$argon2id$v=19$m=1,t=1,p=1$$', '$2b$10$abcdefghijklmnopqrstuv', '$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA']) {
    assert.equal(await hasher.verify(phc, 'x'), false, phc);
  }
  assert.equal(await hasher.verify(await hasher.hash('x'.repeat(10)), 'y'.repeat(100_000)), false, 'oversized input is refused');
});

test('needsRehash: other parameters or a legacy scrypt hash are upgraded at the next login', async () => {
  const weaker = createArgon2Hasher({ memoryCost: 8192, timeCost: 1, parallelism: 1 });
  const old = await weaker.hash('pw-pw-pw-pw');
  assert.equal(hasher.needsRehash(old), true);
  assert.equal(await hasher.verify(old, 'pw-pw-pw-pw'), true, 'still verifies');
  const salt = Buffer.from('0123456789abcdef');
  const key = scryptSync('legacy password', salt, 32, { N: 2 ** 14, r: 8, p: 1 });
  const scryptPhc = `$scrypt$ln=14,r=8,p=1$${salt.toString('base64url')}$${key.toString('base64url')}`;
  assert.equal(await hasher.verify(scryptPhc, 'legacy password'), true);
  assert.equal(await hasher.verify(scryptPhc, 'legacy passwork'), false);
  assert.equal(hasher.needsRehash(scryptPhc), true);
});

test('dummyHash: one valid hash with the current parameters, reused', async () => {
  const d = await hasher.dummyHash();
  assert.equal(d, await hasher.dummyHash());
  assert.equal(hasher.needsRehash(d), false);
});
