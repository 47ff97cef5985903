import { test, mock, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createKeyring } from '../secrets/keyring.ts';
import { createSqliteStore } from '../store/sqlite/index.ts';
import type { Store } from '../store/types.ts';
import { API_KEY_LENGTH, formatApiKey, newApiKey, parseApiKey } from './api-key-format.ts';
import { createApiKeyService } from './api-keys.ts';

const dir = await mkdtemp(path.join(os.tmpdir(), 'rampart-keys-'));
after(() => rm(dir, { recursive: true, force: true }));
const master = crypto.randomBytes(32);
let n = 0;
async function fresh(): Promise<Store> {
  const s = createSqliteStore({ file: path.join(dir, `k${++n}.db`) });
  await s.migrate();
  return s;
}
const NOW = 1_800_000_000;

test('API key format: rmp_<id>_<secret ≥ 256 bits><checksum> (S4); a typo fails the checksum', () => {
  const { key, id } = newApiKey();
  assert.match(key, /^rmp_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}$/);
  assert.equal(key.length, API_KEY_LENGTH);
  assert.ok(43 * Math.log2(62) >= 256, 'the secret part carries at least 256 bits');
  assert.deepEqual(parseApiKey(key)?.id, id);
  const i = 20;
  const typo = key.slice(0, i) + (key[i] === 'a' ? 'b' : 'a') + key.slice(i + 1);
  assert.equal(parseApiKey(typo), undefined);
  for (const bad of ['', 'rmp_', key + 'x', key.slice(0, -1), key.replace('rmp_', 'RMP_'), `${key.slice(0, 16)}-${key.slice(17)}`, 'ｒmp_' + key.slice(4), 'x'.repeat(100_000)]) {
    assert.equal(parseApiKey(bad), undefined, bad.slice(0, 30));
  }
  assert.notEqual(newApiKey().key, newApiKey().key);
});

test('create → verify: the key is shown once, the store holds only its HMAC with the pepper kid', async () => {
  const store = await fresh();
  const keyring = createKeyring(master);
  const svc = createApiKeyService({ store, keyring, now: () => NOW });
  try {
    const { key, record } = await svc.create({ name: 'billing sync', roles: ['billing'], scopes: ['orders:read'], expiresAt: NOW + 3600 });
    const stored = await store.apiKeys.get(record.id);
    assert.ok(stored);
    assert.match(stored.secretMac, /^[0-9a-f]{64}$/);
    assert.equal(stored.pepperKid, keyring.currentKid('api-key-pepper'));
    assert.ok(!JSON.stringify(stored).includes(key.slice(17, 60)), 'no part of the secret is stored');
    const r = await svc.verify(key, NOW + 10);
    assert.equal(r.ok, true);
    assert.deepEqual(r.ok && r.key.roles, ['billing']);
  } finally {
    await svc.close();
    await store.close();
  }
});

test('verify: malformed, unknown, wrong secret, revoked and expired keys are refused with their reason', async () => {
  const store = await fresh();
  const svc = createApiKeyService({ store, keyring: createKeyring(master), now: () => NOW });
  try {
    const { key, record } = await svc.create({ name: 'k', roles: [], expiresAt: NOW + 60 });
    assert.deepEqual(await svc.verify('not a key', NOW), { ok: false, reason: 'malformed' });
    const other = newApiKey().key;
    assert.deepEqual(await svc.verify(other, NOW), { ok: false, reason: 'unknown' });
    // Same id, another secret, valid checksum: a guess at the secret.
    const guess = forge(record.id);
    assert.deepEqual(await svc.verify(guess, NOW), { ok: false, reason: 'mismatch' });
    assert.deepEqual(await svc.verify(key, NOW + 60), { ok: false, reason: 'expired' });
    assert.equal(await svc.revoke(record.id, 'leaked'), true);
    assert.equal(await svc.revoke(record.id), false);
    assert.deepEqual(await svc.verify(key, NOW), { ok: false, reason: 'revoked' });
    const deny = await store.denyList.find('key', record.id);
    assert.equal(deny?.reason, 'leaked', 'revocation reaches gateway caches through the deny-list (S9)');
    assert.equal(await svc.revoke('nonexistent00'), false);
  } finally {
    await svc.close();
    await store.close();
  }
});

/** A key with the given id and a random secret, with a correct checksum. */
function forge(id: string): string {
  return formatApiKey(id, newApiKey().body.slice(-43));
}

test('verify: the MAC is compared with crypto.timingSafeEqual, on every path that reaches the store', async () => {
  const store = await fresh();
  const svc = createApiKeyService({ store, keyring: createKeyring(master), now: () => NOW });
  const spy = mock.method(crypto, 'timingSafeEqual');
  try {
    const { key, record } = await svc.create({ name: 'k', roles: [] });
    spy.mock.resetCalls();
    await svc.verify(key, NOW);
    await svc.verify(forge(record.id), NOW);
    await svc.verify(newApiKey().key, NOW);
    assert.equal(spy.mock.callCount(), 3, 'right key, wrong secret and unknown id: one constant-time comparison each');
    for (const call of spy.mock.calls) assert.equal((call.arguments[0] as Buffer).length, 32);
  } finally {
    spy.mock.restore();
    await svc.close();
    await store.close();
  }
});

test('verify: keys made before a master-key rotation still verify (pepper kid) and are re-MACed with the new pepper; a key made with a dropped master key does not', async () => {
  const store = await fresh();
  const old = createApiKeyService({ store, keyring: createKeyring(master), now: () => NOW });
  const { key } = await old.create({ name: 'k', roles: [] });
  await old.close();
  const newMaster = crypto.randomBytes(32);
  const newKid = createKeyring(newMaster).currentKid('api-key-pepper');
  const rotated = createApiKeyService({ store, keyring: createKeyring([newMaster, master]), now: () => NOW });
  const dropped = createApiKeyService({ store, keyring: createKeyring(crypto.randomBytes(32)), now: () => NOW });
  try {
    assert.deepEqual(await dropped.verify(key, NOW), { ok: false, reason: 'mismatch' });
    assert.equal((await rotated.verify(key, NOW)).ok, true);
    const id = key.slice(4, 16);
    for (let i = 0; i < 50 && (await store.apiKeys.get(id))?.pepperKid !== newKid; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal((await store.apiKeys.get(id))?.pepperKid, newKid, 're-MACed with the new pepper on first use');
    const onlyNew = createApiKeyService({ store, keyring: createKeyring(newMaster), now: () => NOW });
    assert.equal((await onlyNew.verify(key, NOW)).ok, true, 'the old master key can now be dropped');
    await onlyNew.close();
  } finally {
    await rotated.close();
    await dropped.close();
    await store.close();
  }
});

test('verify: the last use is recorded off the request path, written in batches and at close', async () => {
  const store = await fresh();
  const svc = createApiKeyService({ store, keyring: createKeyring(master), now: () => NOW, touchIntervalMs: 3_600_000 });
  const { key, record } = await svc.create({ name: 'k', roles: [] });
  await svc.verify(key, NOW + 5);
  await svc.verify(key, NOW + 7);
  assert.equal((await store.apiKeys.get(record.id))?.lastUsedAt, undefined, 'not written per request');
  await svc.close();
  assert.equal((await store.apiKeys.get(record.id))?.lastUsedAt, NOW + 7);
  await store.close();
});

test('create: names are short plain text', async () => {
  const store = await fresh();
  const svc = createApiKeyService({ store, keyring: createKeyring(master) });
  try {
    await assert.rejects(svc.create({ name: '', roles: [] }), TypeError);
    await assert.rejects(svc.create({ name: '<script>', roles: [] }), TypeError);
    await assert.rejects(svc.create({ name: 'x'.repeat(101), roles: [] }), TypeError);
  } finally {
    await svc.close();
    await store.close();
  }
});
