import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createKeyring, KEY_PURPOSES } from './keyring.ts';
import { SecretsError, type SecretsErrorCode } from './errors.ts';

const code = (c: SecretsErrorCode) => (e: unknown) => e instanceof SecretsError && e.code === c;

/** Flips one bit of the given envelope part (1 = kid … 4 = tag). */
function tamper(envelope: string, part: number): string {
  const parts = envelope.split('.');
  const bytes = Buffer.from(parts[part] ?? '', 'base64url');
  bytes[0] = (bytes[0] ?? 0) ^ 0x01;
  parts[part] = bytes.toString('base64url');
  return parts.join('.');
}

describe('createKeyring', () => {
  const master = randomBytes(32);

  it('seal/open: round trip for every purpose, fresh IV each time', () => {
    const ring = createKeyring(master);
    for (const purpose of KEY_PURPOSES) {
      const a = ring.seal(purpose, 'JBSWY3DPEHPK3PXP', 'user:alice');
      const b = ring.seal(purpose, 'JBSWY3DPEHPK3PXP', 'user:alice');
      assert.notEqual(a, b);
      assert.match(a, /^rk1\.[A-Za-z0-9_-]{11}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
      assert.equal(ring.open(purpose, a, 'user:alice').toString('utf8'), 'JBSWY3DPEHPK3PXP');
    }
    const binary = randomBytes(100);
    assert.deepEqual(ring.open('signing-keys', ring.seal('signing-keys', binary, 'k1'), 'k1'), binary);
  });

  it('key ids: one per purpose, stable for a master key, not the key itself', () => {
    const ring = createKeyring(master);
    const kids = KEY_PURPOSES.map((p) => ring.currentKid(p));
    assert.equal(new Set(kids).size, KEY_PURPOSES.length);
    assert.deepEqual(KEY_PURPOSES.map((p) => createKeyring(master).currentKid(p)), kids);
    for (const kid of kids) assert.ok(!master.toString('base64url').includes(kid));
  });

  it('open: wrong associated data (another row) fails', () => {
    const ring = createKeyring(master);
    const sealed = ring.seal('totp-secrets', 'secret', 'user:alice');
    assert.throws(() => ring.open('totp-secrets', sealed, 'user:bob'), code('RAMPART_SECRETS_OPEN_FAILED'));
    assert.throws(() => ring.open('totp-secrets', sealed, ''), code('RAMPART_SECRETS_BAD_INPUT'));
  });

  it('open: tampered IV, ciphertext or tag fails; a tampered kid is unknown', () => {
    const ring = createKeyring(master);
    const sealed = ring.seal('signing-keys', 'private key', 'row-1');
    for (const part of [2, 3, 4]) {
      assert.throws(() => ring.open('signing-keys', tamper(sealed, part), 'row-1'), code('RAMPART_SECRETS_OPEN_FAILED'));
    }
    assert.throws(() => ring.open('signing-keys', tamper(sealed, 1), 'row-1'), code('RAMPART_SECRETS_UNKNOWN_KEY'));
  });

  it('open: malformed envelopes are refused before any decryption', () => {
    const ring = createKeyring(master);
    const sealed = ring.seal('signing-keys', 'x', 'r');
    for (const bad of ['', 'rk1.a.b', sealed.replace(/^rk1/, 'rk2'), `${sealed}.x`, sealed.replace('.', '.+')]) {
      assert.throws(() => ring.open('signing-keys', bad, 'r'), code('RAMPART_SECRETS_ENVELOPE_MALFORMED'));
    }
  });

  it('open: a value sealed for one purpose does not open under another', () => {
    const ring = createKeyring(master);
    const sealed = ring.seal('totp-secrets', 'secret', 'user:alice');
    assert.throws(() => ring.open('signing-keys', sealed, 'user:alice'), code('RAMPART_SECRETS_UNKNOWN_KEY'));
    // Even with the kid forged to the other purpose's, authentication fails.
    const forged = sealed.split('.');
    forged[1] = ring.currentKid('signing-keys');
    assert.throws(() => ring.open('signing-keys', forged.join('.'), 'user:alice'), code('RAMPART_SECRETS_OPEN_FAILED'));
    assert.throws(() => ring.seal('nope' as 'totp-secrets', 'x', 'r'), code('RAMPART_SECRETS_BAD_INPUT'));
  });

  it('rotation: the newest master key seals, older ones still open, reseal migrates', () => {
    const oldKey = randomBytes(32);
    const newKey = randomBytes(32);
    const before = createKeyring(oldKey);
    const sealedOld = before.seal('identity-key', 'jwk', 'kid-1');

    const during = createKeyring([newKey, oldKey]);
    assert.equal(during.currentKid('identity-key'), createKeyring(newKey).currentKid('identity-key'));
    assert.deepEqual(during.kids('identity-key'), [during.currentKid('identity-key'), before.currentKid('identity-key')]);
    assert.equal(during.open('identity-key', sealedOld, 'kid-1').toString(), 'jwk');
    assert.equal(during.needsReseal('identity-key', sealedOld), true);
    const migrated = during.reseal('identity-key', sealedOld, 'kid-1');
    assert.equal(during.needsReseal('identity-key', migrated), false);
    assert.throws(() => during.reseal('identity-key', sealedOld, 'kid-2'), code('RAMPART_SECRETS_OPEN_FAILED'));

    const after = createKeyring(newKey);
    assert.equal(after.open('identity-key', migrated, 'kid-1').toString(), 'jwk');
    assert.throws(() => after.open('identity-key', sealedOld, 'kid-1'), code('RAMPART_SECRETS_UNKNOWN_KEY'));
    assert.throws(() => before.open('identity-key', migrated, 'kid-1'), code('RAMPART_SECRETS_UNKNOWN_KEY'));
  });

  it('rotation: the same master key listed twice is one key', () => {
    assert.equal(createKeyring([master, Buffer.from(master)]).kids('api-key-pepper').length, 1);
  });

  it('mac: per-purpose, separate from sealing, checkable by kid after rotation', () => {
    const oldKey = randomBytes(32);
    const first = createKeyring(oldKey).mac('api-key-pepper', 'rmp_abc_secret');
    assert.notEqual(first.mac, createKeyring(oldKey).mac('totp-secrets', 'rmp_abc_secret').mac);
    const rotated = createKeyring([randomBytes(32), oldKey]);
    assert.deepEqual(rotated.mac('api-key-pepper', 'rmp_abc_secret', first.kid), first);
    assert.notEqual(rotated.mac('api-key-pepper', 'rmp_abc_secret').kid, first.kid);
  });

  it('refuses no master key or a short one', () => {
    assert.throws(() => createKeyring([]), code('RAMPART_SECRETS_BAD_INPUT'));
    assert.throws(() => createKeyring(randomBytes(16)), code('RAMPART_SECRETS_BAD_INPUT'));
  });
});
