import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMemoryStore } from '../store/memory/index.ts';
import { signOutEverywhere } from './sign-out.ts';
import { LOGIN_STATE_MODEL, readLoginState, writeLoginState } from './login-state.ts';

const ISSUER = 'https://login.example/auth';
const NOW = Math.floor(Date.now() / 1000);
const LATER = NOW + 3600;

test('signOutEverywhere: the account\'s sessions, grants, codes, refresh tokens and half-done logins go; others stay; grants and subject deny-listed', async () => {
  const store = createMemoryStore();
  const up = (model: string, idHash: string, payload: Record<string, unknown>, grantId?: string) =>
    store.oidc.upsert({ model, idHash, payload, expiresAt: LATER, ...(grantId ? { grantId } : {}) });
  await up('Session', 's1', { accountId: 'alice', authorizations: { web: { grantId: 'g-session-only' } } });
  await up('Grant', 'h-g1', { accountId: 'alice', clientId: 'web' });
  await up('RefreshToken', 'r1', { accountId: 'alice' }, 'g1');
  await up('AuthorizationCode', 'c1', { accountId: 'alice' }, 'g2');
  await up('ReplayDetection', 'x1', {}, 'g1');
  await up('Interaction', 'i1', { session: { accountId: 'alice' } });
  await up('Session', 's2', { accountId: 'bob', authorizations: { web: { grantId: 'g-bob' } } });
  await up('RefreshToken', 'r2', { accountId: 'bob' }, 'g-bob');
  await writeLoginState(store.oidc, 'uid-alice', { userId: 'alice', username: 'alice', passwordAt: NOW }, LATER);
  await writeLoginState(store.oidc, 'uid-bob', { userId: 'bob', username: 'bob', passwordAt: NOW }, LATER);
  const revoked: string[] = [];

  const ended = await signOutEverywhere(store, { issuer: ISSUER, userId: 'alice', reason: 'password changed', denySeconds: 3660, revokeGrant: async (g) => void revoked.push(g), now: () => NOW + 0.7 });

  assert.deepEqual(ended, { artefacts: 6, grants: 3 });
  assert.deepEqual(revoked.sort(), ['g-session-only', 'g1', 'g2']);
  for (const [model, id] of [['Session', 's1'], ['Grant', 'h-g1'], ['RefreshToken', 'r1'], ['AuthorizationCode', 'c1'], ['ReplayDetection', 'x1']]) {
    assert.equal(await store.oidc.find(model as string, id as string), undefined, `${model} ${id}`);
  }
  assert.deepEqual(await readLoginState(store.oidc, 'uid-alice'), {});
  // Another user's artefacts, and the interaction (it may be the one changing the password), stay.
  assert.ok(await store.oidc.find('Interaction', 'i1'));
  assert.ok(await store.oidc.find('Session', 's2'));
  assert.ok(await store.oidc.find('RefreshToken', 'r2'));
  assert.equal((await readLoginState(store.oidc, 'uid-bob')).userId, 'bob');
  assert.equal((await store.oidc.listByAccount(LOGIN_STATE_MODEL, 'bob')).length, 1);
  const cut = await store.denyList.find('subject', `${ISSUER}|user|alice`);
  assert.equal(cut?.notBefore, NOW + 1, 'every token issued up to the next second');
  assert.equal(cut?.expiresAt, NOW + 1 + 3660);
  assert.equal(await store.denyList.find('subject', `${ISSUER}|user|bob`), undefined);
});
