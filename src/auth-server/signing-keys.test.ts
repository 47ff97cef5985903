import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, createPublicKey } from 'node:crypto';
import { createMemoryStore } from '../store/memory/index.ts';
import { createKeyring } from '../secrets/keyring.ts';
import { loadSigningKeys, rotateSigningKeys, providerJwks, publicJwks, SIGNING_KEYS_MODEL } from './signing-keys.ts';

test('loadSigningKeys: generated on first start, the same on the next, private part sealed (S4)', async () => {
  const store = createMemoryStore();
  const keyring = createKeyring(randomBytes(32));
  const first = await loadSigningKeys(store.oidc, keyring, 1000);
  assert.equal(first.keys.length, 1);
  const again = await loadSigningKeys(store.oidc, keyring, 1001);
  assert.equal(again.keys[0]?.kid, first.keys[0]?.kid);
  assert.equal(again.version, first.version);
  const priv = providerJwks(again, keyring).keys[0];
  assert.ok(priv?.d, 'the provider gets the private key');
  const stored = JSON.stringify(await store.oidc.find(SIGNING_KEYS_MODEL, (await import('node:crypto')).createHash('sha256').update('signing-keys').digest('hex')));
  assert.equal(stored.includes(String(priv?.d)), false, 'the private key is not stored in clear');
  const pub = publicJwks(again).keys[0];
  assert.equal(pub && 'd' in pub, false);
  assert.equal(pub?.alg, 'ES256');
  createPublicKey({ key: pub as never, format: 'jwk' });
});

test('loadSigningKeys: another master key cannot open them', async () => {
  const store = createMemoryStore();
  await loadSigningKeys(store.oidc, createKeyring(randomBytes(32)), 1000);
  const other = createKeyring(randomBytes(32));
  await assert.rejects(loadSigningKeys(store.oidc, other, 1000), /master key/);
});

test('rotateSigningKeys: new current key first, old kept in the JWKS until its tokens expired, then dropped', async () => {
  const store = createMemoryStore();
  const keyring = createKeyring(randomBytes(32));
  const before = await loadSigningKeys(store.oidc, keyring, 1000);
  const after = await rotateSigningKeys(store.oidc, keyring, 2000, 3660);
  assert.equal(after.keys.length, 2);
  assert.notEqual(after.keys[0]?.kid, before.keys[0]?.kid);
  assert.equal(after.keys[1]?.kid, before.keys[0]?.kid);
  assert.notEqual(after.version, before.version);
  assert.deepEqual(publicJwks(await loadSigningKeys(store.oidc, keyring, 5000)).keys.map((k) => k.kid), after.keys.map((k) => k.kid));
  const later = await loadSigningKeys(store.oidc, keyring, 2000 + 3661);
  assert.deepEqual(later.keys.map((k) => k.kid), [after.keys[0]?.kid]);
});

test('loadSigningKeys: keys sealed by an older master key are resealed with the newest', async () => {
  const store = createMemoryStore();
  const oldKey = randomBytes(32);
  const set = await loadSigningKeys(store.oidc, createKeyring(oldKey), 1000);
  const rotated = createKeyring([randomBytes(32), oldKey]);
  const again = await loadSigningKeys(store.oidc, rotated, 1001);
  assert.equal(again.keys[0]?.kid, set.keys[0]?.kid);
  assert.equal(rotated.needsReseal('signing-keys', again.keys[0]?.sealed ?? ''), false);
});
