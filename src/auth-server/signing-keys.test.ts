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

test('rotateSigningKeys: the new key is published at once, signs from its activation; the old one stays until its tokens expired', async () => {
  const store = createMemoryStore();
  const keyring = createKeyring(randomBytes(32));
  const before = await loadSigningKeys(store.oidc, keyring, 1000);
  const oldKid = before.keys[0]?.kid;
  const { set, added } = await rotateSigningKeys(store.oidc, keyring, 2000, 3660, 60);
  assert.equal(added.activatesAt, 2060);
  assert.deepEqual(set.keys.map((k) => k.kid), [oldKid, added.kid], 'published, but the old key still signs');
  assert.equal(publicJwks(set).keys.length, 2);
  const active = await loadSigningKeys(store.oidc, keyring, 2060);
  assert.deepEqual(active.keys.map((k) => k.kid), [added.kid, oldKid], 'from its activation the new key signs');
  assert.notEqual(active.version, set.version, 'instances see the switch as a change');
  const later = await loadSigningKeys(store.oidc, keyring, 2060 + 3661);
  assert.deepEqual(later.keys.map((k) => k.kid), [added.kid], 'dropped once its tokens expired');
});

test('rotateSigningKeys: immediate activation, twice in a row', async () => {
  const store = createMemoryStore();
  const keyring = createKeyring(randomBytes(32));
  await loadSigningKeys(store.oidc, keyring, 1000);
  const a = await rotateSigningKeys(store.oidc, keyring, 2000, 600);
  const b = await rotateSigningKeys(store.oidc, keyring, 2001, 600);
  assert.equal(b.set.keys[0]?.kid, b.added.kid);
  assert.equal(b.set.keys.length, 3);
  assert.ok(b.set.keys.some((k) => k.kid === a.added.kid));
  assert.ok(providerJwks(b.set, keyring).keys.every((k) => typeof k.d === 'string'));
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
