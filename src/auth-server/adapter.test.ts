import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../store/memory/index.ts';
import { randomBytes } from 'node:crypto';
import { createKeyring } from '../secrets/keyring.ts';
import { StoreAdapter, sha256 } from './adapter.ts';

function setup() {
  const store = createMemoryStore();
  const replays: string[] = [];
  const keyring = createKeyring(randomBytes(32));
  const deps = {
    store,
    onReplay: async (grantId: string) => void replays.push(grantId),
    sealId: (id: string, h: string) => keyring.seal('oidc-artefacts', id, h),
    openId: (s: string, h: string) => keyring.open('oidc-artefacts', s, h).toString('utf8'),
  };
  return { store, replays, adapter: (model: string) => new StoreAdapter(model, deps) };
}

test('StoreAdapter: artefacts are stored under SHA-256 of their id, the id never stored (S4)', async () => {
  const { store, adapter } = setup();
  const token = 'r-opaque-token-value-0123456789';
  await adapter('RefreshToken').upsert(token, { jti: token, grantId: 'g1', accountId: 'alice', exp: 9e9 }, 600);
  const raw = await store.oidc.find('RefreshToken', sha256(token));
  assert.ok(raw);
  assert.equal(JSON.stringify(raw).includes(token), false);
  assert.equal(raw.grantId, 'g1');
  const found = await adapter('RefreshToken').find(token);
  assert.equal(found?.jti, token);
  assert.equal(found?.accountId, 'alice');
  assert.equal(await adapter('RefreshToken').find('another'), undefined);
  assert.equal(await adapter('AccessToken').find(token), undefined, 'models do not share ids');
});

test('StoreAdapter: the device user code is stored hashed and found by it', async () => {
  const { store, adapter } = setup();
  await adapter('DeviceCode').upsert('dc-1', { jti: 'dc-1', userCode: 'BCDFGHJK', grantId: 'g2' }, 600);
  assert.equal(JSON.stringify(await store.oidc.find('DeviceCode', sha256('dc-1'))).includes('BCDFGHJK'), false);
  const byCode = await adapter('DeviceCode').findByUserCode('BCDFGHJK');
  assert.equal(byCode?.userCode, 'BCDFGHJK');
  assert.equal(byCode?.jti, 'dc-1', 'the id comes back (sealed in the record), so the provider saves to the same record');
  assert.equal(byCode?.sealedId, undefined);
  // Saved again without the user code (the provider's later saves): the index stays.
  await adapter('DeviceCode').upsert('dc-1', { jti: 'dc-1', grantId: 'g2', accountId: 'alice' }, 600);
  assert.equal((await adapter('DeviceCode').findByUserCode('BCDFGHJK'))?.accountId, 'alice');
});

test('StoreAdapter: consume is single use; a second consume revokes the grant and fails (RFC 9700 §4.14.2)', async () => {
  const { adapter, replays } = setup();
  const a = adapter('AuthorizationCode');
  await a.upsert('code-1', { jti: 'code-1', grantId: 'g3' }, 60);
  await a.consume('code-1');
  assert.ok((await a.find('code-1'))?.consumed);
  await assert.rejects(a.consume('code-1'), (e: Error & { error?: string }) => e.error === 'invalid_grant');
  assert.deepEqual(replays, ['g3']);
});

test('StoreAdapter: racing consumes — exactly one wins', async () => {
  const { adapter, replays } = setup();
  const a = adapter('RefreshToken');
  await a.upsert('rt-race', { jti: 'rt-race', grantId: 'g4' }, 600);
  const results = await Promise.allSettled(Array.from({ length: 8 }, () => a.consume('rt-race')));
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.ok(replays.every((g) => g === 'g4') && replays.length === 7);
});

test('StoreAdapter: revokeByGrantId and destroy remove artefacts; expired ones are not found', async () => {
  const { adapter } = setup();
  await adapter('RefreshToken').upsert('rt-a', { jti: 'rt-a', grantId: 'g5' }, 600);
  await adapter('AccessToken').upsert('at-a', { jti: 'at-a', grantId: 'g5' }, 600);
  await adapter('RefreshToken').revokeByGrantId('g5');
  assert.equal(await adapter('RefreshToken').find('rt-a'), undefined);
  assert.equal(await adapter('AccessToken').find('at-a'), undefined);
  await adapter('Session').upsert('s-1', { jti: 's-1', uid: 'u-1', accountId: 'bob' }, 600);
  assert.equal((await adapter('Session').findByUid('u-1'))?.accountId, 'bob');
  await adapter('Session').destroy('s-1');
  assert.equal(await adapter('Session').findByUid('u-1'), undefined);
  await adapter('Interaction').upsert('i-1', { jti: 'i-1' }, -1);
  assert.equal(await adapter('Interaction').find('i-1'), undefined);
});

test('StoreAdapter: clients come from the store; disabled ones do not exist; the secret is never a stored value', async () => {
  const { store, adapter } = setup();
  await store.clients.create({ clientId: 'svc', metadata: { grant_types: ['client_credentials'], redirect_uris: [] }, secretHash: 'sha256:abc', roles: [], disabled: false, createdAt: 1 });
  await store.clients.create({ clientId: 'off', metadata: {}, roles: [], disabled: true, createdAt: 1 });
  assert.deepEqual(await adapter('Client').find('svc'), { grant_types: ['client_credentials'], redirect_uris: [], client_id: 'svc', client_secret: 'sha256:abc' });
  assert.equal(await adapter('Client').find('off'), undefined);
  await assert.rejects(adapter('Client').upsert('x', {}, 1));
});

test('StoreAdapter: hostile ids are bounded', async () => {
  const { adapter } = setup();
  assert.equal(await adapter('AccessToken').find('x'.repeat(10_000)), undefined);
  assert.equal(await adapter('AccessToken').find(''), undefined);
  assert.equal(await adapter('DeviceCode').findByUserCode('y'.repeat(1000)), undefined);
});
