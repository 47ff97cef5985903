/**
 * The store contract suite (DESIGN.md "Storage"): one set of tests that every backend runs —
 * src/store/memory.test.ts, sqlite.test.ts and postgres.test.ts call `storeContract` with a way
 * to open a fresh, migrated, empty store. A behaviour a caller relies on belongs here, not in one
 * backend's own tests.
 */
import { describe, test, after } from 'node:test';
import assert from 'node:assert/strict';
import type { ApiKeyRecord, ClientRecord, OidcArtefact, Store, UserRecord } from './types.ts';
import type { StoreClock } from './records.ts';

export interface ContractBackend {
  readonly name: string;
  /** A fresh, migrated, empty store whose expiry checks use `clock`. */
  open(clock: StoreClock): Promise<Store>;
  /** A second store over the same data (another gateway instance, or a restart); absent: in-process only. */
  reopen?(store: Store, clock: StoreClock): Promise<Store>;
  /** After every test of the suite. */
  teardown?(): Promise<void>;
}

/** A clock tests can move: starts at a fixed instant with a fractional part. */
export function testClock(start = 1_800_000_000.25): StoreClock & { set(t: number): void; advance(s: number): void } {
  let t = start;
  const clock = (() => t) as StoreClock & { set(t: number): void; advance(s: number): void };
  clock.set = (v) => void (t = v);
  clock.advance = (s) => void (t += s);
  return clock;
}

export function sampleUser(id: string, extra: Partial<UserRecord> = {}): UserRecord {
  return {
    id, username: id, passwordHash: `$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$${id}`, mustChangePassword: false,
    roles: ['reader'], recoveryCodeHashes: [], disabled: false, createdAt: 1_700_000_000, updatedAt: 1_700_000_000, ...extra,
  };
}

function sampleKey(id: string, extra: Partial<ApiKeyRecord> = {}): ApiKeyRecord {
  return { id, name: `key ${id}`, secretMac: `mac-${id}`, pepperKid: 'kid1', roles: ['svc'], scopes: ['orders:read'], createdAt: 1_700_000_000, ...extra };
}

function artefact(model: string, idHash: string, extra: Partial<OidcArtefact> = {}): OidcArtefact {
  return { model, idHash, payload: { jti: idHash, kind: model, nested: { a: [1, 'two', null, true] } }, expiresAt: 1_800_003_600, ...extra };
}

const conflict = { name: 'StoreError', code: 'RAMPART_STORE_CONFLICT' };
const badInput = { name: 'StoreError', code: 'RAMPART_STORE_BAD_INPUT' };

export function storeContract(backend: ContractBackend): void {
  describe(`store contract: ${backend.name}`, () => {
    after(async () => backend.teardown?.());
    const opened = async (clock: StoreClock = testClock()): Promise<Store> => backend.open(clock);
    const withStore = (name: string, fn: (s: Store, clock: ReturnType<typeof testClock>) => Promise<void>) =>
      test(name, async () => {
        const clock = testClock();
        const s = await opened(clock);
        try {
          await fn(s, clock);
        } finally {
          await s.close();
        }
      });

    withStore('migrate is idempotent and the store reports its kind', async (s) => {
      await s.migrate();
      await s.migrate();
      assert.ok(['sqlite', 'postgres', 'memory'].includes(s.kind));
      assert.deepEqual(await s.users.list(), []);
    });

    // ── users ──────────────────────────────────────────────────────────────────────────────
    withStore('users: create, get and getByUsername round-trip every field', async (s) => {
      const full = sampleUser('alice', {
        username: 'alice', displayName: 'Alice Ünïcödé 🦊', email: 'alice@example.com', mustChangePassword: true, roles: ['a', 'b'],
        totpSecretSealed: 'rk1.kid.iv.ct.tag', totpLastStep: 59_999_999, recoveryCodeHashes: ['h1', 'h2'], disabled: true,
        createdAt: 1_700_000_000.5, updatedAt: 1_700_000_001,
      });
      await s.users.create(full);
      assert.deepEqual(await s.users.get('alice'), full);
      assert.deepEqual(await s.users.getByUsername('alice'), full);
      const bare = sampleUser('bob');
      await s.users.create(bare);
      const got = await s.users.get('bob');
      assert.deepEqual(got, bare);
      assert.ok(got && !('displayName' in got) && !('totpSecretSealed' in got) && !('totpLastStep' in got), 'absent optional fields stay absent');
      assert.equal(await s.users.get('nobody'), undefined);
      assert.equal(await s.users.getByUsername('nobody'), undefined);
    });

    withStore('users: a duplicate id or username is a conflict', async (s) => {
      await s.users.create(sampleUser('alice'));
      await assert.rejects(s.users.create(sampleUser('alice', { username: 'other' })), conflict);
      await assert.rejects(s.users.create(sampleUser('other', { username: 'alice' })), conflict);
      assert.equal((await s.users.list()).length, 1);
    });

    withStore('users: list is ordered by username', async (s) => {
      for (const u of ['carol', 'alice', 'bob']) await s.users.create(sampleUser(`id-${u}`, { username: u }));
      assert.deepEqual((await s.users.list()).map((u) => u.username), ['alice', 'bob', 'carol']);
    });

    withStore('users: update changes only the given fields, stamps updatedAt, and clears optional fields given as undefined', async (s, clock) => {
      await s.users.create(sampleUser('alice', { displayName: 'A', totpSecretSealed: 'sealed', totpLastStep: 5, recoveryCodeHashes: ['x'] }));
      assert.equal(await s.users.update('alice', { roles: ['admin'], mustChangePassword: true }), true);
      let u = await s.users.get('alice');
      assert.deepEqual(u?.roles, ['admin']);
      assert.equal(u?.mustChangePassword, true);
      assert.equal(u?.displayName, 'A');
      assert.equal(u?.updatedAt, clock());
      assert.equal(await s.users.update('alice', { totpSecretSealed: undefined, totpLastStep: undefined, recoveryCodeHashes: [] }), true);
      u = await s.users.get('alice');
      assert.ok(u && !('totpSecretSealed' in u) && !('totpLastStep' in u));
      assert.deepEqual(u?.recoveryCodeHashes, []);
      assert.equal(await s.users.update('nobody', { disabled: true }), false);
    });

    withStore('users: update refuses to clear a required field or take a used username', async (s) => {
      await s.users.create(sampleUser('alice'));
      await s.users.create(sampleUser('bob'));
      await assert.rejects(s.users.update('alice', { passwordHash: undefined } as never), badInput);
      await assert.rejects(s.users.update('alice', { id: 'x' } as never), badInput);
      await assert.rejects(s.users.update('alice', { username: 'bob' }), conflict);
      assert.equal((await s.users.get('alice'))?.username, 'alice');
    });

    withStore('users: records are copies', async (s) => {
      const u = sampleUser('alice', { roles: ['a'] });
      await s.users.create(u);
      (u.roles as string[]).push('injected');
      const got = await s.users.get('alice');
      (got?.roles as string[]).push('injected');
      assert.deepEqual((await s.users.get('alice'))?.roles, ['a']);
    });

    withStore('users: text with NUL or a lone surrogate is refused on write and finds nothing on read', async (s) => {
      await assert.rejects(s.users.create(sampleUser('a\u0000b')), badInput);
      await assert.rejects(s.users.create(sampleUser('lone', { username: 'x\ud800' })), badInput);
      assert.equal(await s.users.get('a\u0000b'), undefined);
      assert.equal(await s.users.getByUsername('x\ud800'), undefined);
    });

    withStore('users: advanceTotpStep is a compare-and-set that only moves forward (S7)', async (s) => {
      await s.users.create(sampleUser('alice'));
      assert.equal(await s.users.advanceTotpStep('alice', 100), true);
      assert.equal(await s.users.advanceTotpStep('alice', 100), false, 'the same step twice is a replay');
      assert.equal(await s.users.advanceTotpStep('alice', 99), false, 'an older step is refused');
      assert.equal(await s.users.advanceTotpStep('alice', 101), true);
      assert.equal((await s.users.get('alice'))?.totpLastStep, 101);
      assert.equal(await s.users.advanceTotpStep('nobody', 1), false);
    });

    withStore('users: concurrent advanceTotpStep for one step has exactly one winner', async (s) => {
      await s.users.create(sampleUser('alice', { totpLastStep: 10 }));
      const results = await Promise.all(Array.from({ length: 20 }, () => s.users.advanceTotpStep('alice', 11)));
      assert.equal(results.filter(Boolean).length, 1);
    });

    withStore('users: a recovery code is consumed once, even concurrently', async (s) => {
      await s.users.create(sampleUser('alice', { recoveryCodeHashes: ['h1', 'h2', 'h3'] }));
      assert.equal(await s.users.consumeRecoveryCode('alice', 'h2'), true);
      assert.equal(await s.users.consumeRecoveryCode('alice', 'h2'), false);
      assert.equal(await s.users.consumeRecoveryCode('alice', 'nope'), false);
      assert.equal(await s.users.consumeRecoveryCode('nobody', 'h1'), false);
      const results = await Promise.all(Array.from({ length: 10 }, () => s.users.consumeRecoveryCode('alice', 'h1')));
      assert.equal(results.filter(Boolean).length, 1);
      assert.deepEqual((await s.users.get('alice'))?.recoveryCodeHashes, ['h3']);
      await s.users.update('alice', { recoveryCodeHashes: ['n1', 'n2'] });
      assert.equal(await s.users.consumeRecoveryCode('alice', 'h3'), false, 'replaced codes are gone');
      assert.equal(await s.users.consumeRecoveryCode('alice', 'n2'), true);
    });

    // ── clients ────────────────────────────────────────────────────────────────────────────
    withStore('clients: create, get, list ordered, remove; duplicates conflict', async (s) => {
      const web: ClientRecord = {
        clientId: 'web', metadata: { redirect_uris: ['https://app.example/cb'], grant_types: ['authorization_code', 'refresh_token'], token_endpoint_auth_method: 'none', nested: { x: 1 } },
        roles: [], disabled: false, createdAt: 1_700_000_000,
      };
      const cli: ClientRecord = { clientId: 'cli', metadata: {}, secretHash: 'h', secretSealed: 'rk1.a.b.c.d', roles: ['svc'], disabled: true, createdAt: 1_700_000_001 };
      await s.clients.create(web);
      await s.clients.create(cli);
      await assert.rejects(s.clients.create(web), conflict);
      assert.deepEqual(await s.clients.get('web'), web);
      assert.deepEqual(await s.clients.get('cli'), cli);
      assert.deepEqual((await s.clients.list()).map((c) => c.clientId), ['cli', 'web']);
      assert.equal(await s.clients.remove('web'), true);
      assert.equal(await s.clients.remove('web'), false);
      assert.equal(await s.clients.get('web'), undefined);
    });

    // ── API keys ───────────────────────────────────────────────────────────────────────────
    withStore('apiKeys: create, get, list ordered by creation; duplicates conflict', async (s) => {
      const k2 = sampleKey('k2', { createdAt: 1_700_000_002, expiresAt: 1_900_000_000 });
      const k1 = sampleKey('k1', { createdAt: 1_700_000_001 });
      await s.apiKeys.create(k2);
      await s.apiKeys.create(k1);
      await assert.rejects(s.apiKeys.create(k1), conflict);
      assert.deepEqual(await s.apiKeys.get('k2'), k2);
      const got = await s.apiKeys.get('k1');
      assert.ok(got && !('expiresAt' in got) && !('revokedAt' in got) && !('lastUsedAt' in got));
      assert.deepEqual((await s.apiKeys.list()).map((k) => k.id), ['k1', 'k2']);
      assert.equal(await s.apiKeys.get('nope'), undefined);
    });

    withStore('apiKeys: revoke once (the first time is kept); touch and touchMany keep the latest use', async (s) => {
      await s.apiKeys.create(sampleKey('k1'));
      assert.equal(await s.apiKeys.revoke('k1', 1_800_000_000), true);
      assert.equal(await s.apiKeys.revoke('k1', 1_800_000_100), false);
      assert.equal((await s.apiKeys.get('k1'))?.revokedAt, 1_800_000_000);
      assert.equal(await s.apiKeys.revoke('nope', 1), false);
      await s.apiKeys.touch('k1', 1_800_000_050);
      await s.apiKeys.touch('k1', 1_800_000_040);
      assert.equal((await s.apiKeys.get('k1'))?.lastUsedAt, 1_800_000_050);
      await s.apiKeys.touch('nope', 1);
      await s.apiKeys.create(sampleKey('k2'));
      await s.apiKeys.touchMany([['k1', 1_800_000_060], ['k2', 1_800_000_070], ['k1', 1_800_000_055], ['nope', 5], ['bad\u0000id', 5]]);
      assert.equal((await s.apiKeys.get('k1'))?.lastUsedAt, 1_800_000_060);
      assert.equal((await s.apiKeys.get('k2'))?.lastUsedAt, 1_800_000_070);
      await s.apiKeys.touchMany([]);
    });

    withStore('apiKeys: replaceMac is a compare-and-set on the old MAC and pepper kid', async (s) => {
      await s.apiKeys.create(sampleKey('k1', { secretMac: 'old', pepperKid: 'kid-old' }));
      const from = { secretMac: 'old', pepperKid: 'kid-old' };
      assert.equal(await s.apiKeys.replaceMac('k1', { secretMac: 'other', pepperKid: 'kid-old' }, { secretMac: 'x', pepperKid: 'y' }), false);
      const results = await Promise.all([1, 2, 3].map((i) => s.apiKeys.replaceMac('k1', from, { secretMac: `new${i}`, pepperKid: 'kid-new' })));
      assert.equal(results.filter(Boolean).length, 1);
      const k = await s.apiKeys.get('k1');
      assert.equal(k?.pepperKid, 'kid-new');
      assert.match(k?.secretMac ?? '', /^new[123]$/);
      assert.equal(await s.apiKeys.replaceMac('nope', from, from), false);
    });

    // ── deny-list ──────────────────────────────────────────────────────────────────────────
    withStore('denyList: add and find; expired entries are not returned', async (s, clock) => {
      await s.denyList.add({ kind: 'grant', value: 'g1', notBefore: clock(), expiresAt: clock() + 300, reason: 'refresh reuse' });
      const e = await s.denyList.find('grant', 'g1');
      assert.equal(e?.reason, 'refresh reuse');
      assert.equal(e?.notBefore, clock());
      assert.equal(e?.changedAt, clock());
      assert.equal(await s.denyList.find('subject', 'g1'), undefined, 'kinds are separate');
      clock.advance(300);
      assert.equal(await s.denyList.find('grant', 'g1'), undefined);
      assert.deepEqual(await s.denyList.changedSince(0), []);
    });

    withStore('denyList: adding again keeps the later notBefore and expiry and the newest reason', async (s, clock) => {
      const t = clock();
      await s.denyList.add({ kind: 'subject', value: 'iss|user|alice', notBefore: t + 10, expiresAt: t + 600, reason: 'disabled' });
      await s.denyList.add({ kind: 'subject', value: 'iss|user|alice', notBefore: t + 5, expiresAt: t + 60, reason: 'again' });
      const e = await s.denyList.find('subject', 'iss|user|alice');
      assert.equal(e?.notBefore, t + 10);
      assert.equal(e?.expiresAt, t + 600);
      assert.equal(e?.reason, 'again');
    });

    withStore('denyList: changedSince is inclusive, ordered, and a poller can use the highest changedAt seen', async (s, clock) => {
      const t0 = clock();
      await s.denyList.add({ kind: 'grant', value: 'a', notBefore: t0, expiresAt: t0 + 100, reason: 'r' });
      clock.advance(1);
      await s.denyList.add({ kind: 'key', value: 'b', notBefore: t0, expiresAt: t0 + 100, reason: 'r' });
      const all = await s.denyList.changedSince(t0);
      assert.deepEqual(all.map((e) => e.value), ['a', 'b']);
      const mark = Math.max(...all.map((e) => e.changedAt ?? 0));
      assert.deepEqual((await s.denyList.changedSince(mark)).map((e) => e.value), ['b']);
      clock.advance(1);
      await s.denyList.add({ kind: 'client', value: 'c', notBefore: t0, expiresAt: t0 + 100, reason: 'r' });
      assert.deepEqual((await s.denyList.changedSince(mark)).map((e) => e.value), ['b', 'c']);
    });

    withStore('denyList: purgeExpired removes only what has expired', async (s, clock) => {
      const t = clock();
      await s.denyList.add({ kind: 'grant', value: 'old', notBefore: t, expiresAt: t + 10, reason: 'r' });
      await s.denyList.add({ kind: 'grant', value: 'new', notBefore: t, expiresAt: t + 1000, reason: 'r' });
      assert.equal(await s.denyList.purgeExpired(t + 10), 1);
      assert.equal(await s.denyList.purgeExpired(t + 10), 0);
      assert.ok(await s.denyList.find('grant', 'new'));
    });

    // ── OIDC artefacts ─────────────────────────────────────────────────────────────────────
    withStore('oidc: upsert creates and replaces; find by id hash, uid and user code', async (s) => {
      const sess = artefact('Session', 'h-sess', { uid: 'uid-1', payload: { accountId: 'alice', ünï: 'cödé', nul: 'a\u0000b' } });
      const device = artefact('DeviceCode', 'h-dev', { userCodeHash: 'uc-1', grantId: 'g1' });
      await s.oidc.upsert(sess);
      await s.oidc.upsert(device);
      assert.deepEqual(await s.oidc.find('Session', 'h-sess'), sess);
      assert.deepEqual(await s.oidc.findByUid('Session', 'uid-1'), sess);
      assert.deepEqual(await s.oidc.findByUserCode('DeviceCode', 'uc-1'), device);
      assert.equal(await s.oidc.find('AccessToken', 'h-sess'), undefined, 'models are separate');
      assert.equal(await s.oidc.findByUid('Interaction', 'uid-1'), undefined);
      const replaced = { ...sess, payload: { accountId: 'bob' }, expiresAt: sess.expiresAt + 60 };
      await s.oidc.upsert(replaced);
      assert.deepEqual(await s.oidc.find('Session', 'h-sess'), replaced);
    });

    withStore('oidc: expired artefacts are not found, and purgeExpired removes them', async (s, clock) => {
      await s.oidc.upsert(artefact('AuthorizationCode', 'c1', { expiresAt: clock() + 60, uid: 'u', userCodeHash: 'uc' }));
      await s.oidc.upsert(artefact('AuthorizationCode', 'c2', { expiresAt: clock() + 600 }));
      clock.advance(60);
      assert.equal(await s.oidc.find('AuthorizationCode', 'c1'), undefined);
      assert.equal(await s.oidc.findByUid('AuthorizationCode', 'u'), undefined);
      assert.equal(await s.oidc.findByUserCode('AuthorizationCode', 'uc'), undefined);
      assert.equal(await s.oidc.consume('AuthorizationCode', 'c1', clock()), false);
      assert.equal(await s.oidc.purgeExpired(clock()), 1);
      assert.ok(await s.oidc.find('AuthorizationCode', 'c2'));
    });

    withStore('oidc: consume is single use, even concurrently (authorization code reuse)', async (s, clock) => {
      await s.oidc.upsert(artefact('AuthorizationCode', 'code'));
      const results = await Promise.all(Array.from({ length: 10 }, () => s.oidc.consume('AuthorizationCode', 'code', clock())));
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await s.oidc.find('AuthorizationCode', 'code'))?.consumedAt, clock());
      assert.equal(await s.oidc.consume('AuthorizationCode', 'missing', clock()), false);
    });

    withStore('oidc: destroy and revokeByGrantId remove exactly their artefacts', async (s) => {
      await s.oidc.upsert(artefact('RefreshToken', 'r1', { grantId: 'g1' }));
      await s.oidc.upsert(artefact('AccessToken', 'a1', { grantId: 'g1' }));
      await s.oidc.upsert(artefact('Grant', 'g1', { grantId: 'g1' }));
      await s.oidc.upsert(artefact('RefreshToken', 'r2', { grantId: 'g2' }));
      await s.oidc.destroy('RefreshToken', 'r2');
      await s.oidc.destroy('RefreshToken', 'r2');
      assert.equal(await s.oidc.find('RefreshToken', 'r2'), undefined);
      assert.equal(await s.oidc.revokeByGrantId('g1'), 3);
      assert.equal(await s.oidc.revokeByGrantId('g1'), 0);
      assert.equal(await s.oidc.find('AccessToken', 'a1'), undefined);
    });

    withStore('oidc: listByAccount finds the live artefacts of one model that name the account, nothing else', async (s, clock) => {
      const of = (accountId: string, extra: Partial<OidcArtefact> = {}) => ({ payload: { accountId, authorizations: { web: { grantId: 'g1' } } }, ...extra });
      await s.oidc.upsert(artefact('Session', 's1', of('alice')));
      await s.oidc.upsert(artefact('Session', 's2', of('alice', { expiresAt: clock() - 1 })));
      await s.oidc.upsert(artefact('Session', 's3', of('alice2')));
      await s.oidc.upsert(artefact('Session', 's4', of("alice' OR '1'='1")));
      await s.oidc.upsert(artefact('RefreshToken', 'r1', of('alice', { grantId: 'g1' })));
      await s.oidc.upsert(artefact('Session', 's5'));
      const sessions = await s.oidc.listByAccount('Session', 'alice');
      assert.deepEqual(sessions.map((a) => a.idHash), ['s1']);
      assert.deepEqual(sessions[0]?.payload, { accountId: 'alice', authorizations: { web: { grantId: 'g1' } } });
      assert.deepEqual((await s.oidc.listByAccount('RefreshToken', 'alice')).map((a) => [a.idHash, a.grantId]), [['r1', 'g1']]);
      assert.deepEqual(await s.oidc.listByAccount('Grant', 'alice'), []);
      assert.deepEqual(await s.oidc.listByAccount('Session', 'nobody'), []);
    });

    // ── audit trail ────────────────────────────────────────────────────────────────────────
    withStore('audit: append and list in time order, from `since` (inclusive), at most `limit`', async (s) => {
      await s.audit.append({ at: 20, actor: 'cli', action: 'users.add', target: 'user:bob', detail: { roles: ['x'] } });
      await s.audit.append({ at: 10, actor: 'cli', action: 'users.add', target: 'user:alice' });
      await s.audit.append({ at: 20, actor: 'gateway', action: 'keys.revoke' });
      const all = await s.audit.list();
      assert.deepEqual(all.map((r) => [r.at, r.action]), [[10, 'users.add'], [20, 'users.add'], [20, 'keys.revoke']]);
      assert.deepEqual(all[1]?.detail, { roles: ['x'] });
      assert.ok(all[2] && !('target' in all[2]) && !('detail' in all[2]));
      assert.equal((await s.audit.list({ since: 20 })).length, 2);
      assert.deepEqual((await s.audit.list({ limit: 1 })).map((r) => r.at), [10]);
    });

    // ── lifecycle ──────────────────────────────────────────────────────────────────────────
    test('close: later calls reject with RAMPART_STORE_CLOSED; closing twice is harmless', async () => {
      const s = await opened();
      await s.close();
      await s.close();
      await assert.rejects(s.users.get('alice'), { name: 'StoreError', code: 'RAMPART_STORE_CLOSED' });
    });

    if (backend.reopen) {
      const reopen = backend.reopen.bind(backend);
      test('instances share data: what one writes, another reads; TOTP and codes are single use across them', async () => {
        const clock = testClock();
        const a = await opened(clock);
        const b = await reopen(a, clock);
        try {
          await a.users.create(sampleUser('alice', { totpLastStep: 1, recoveryCodeHashes: ['h'] }));
          assert.equal((await b.users.get('alice'))?.username, 'alice');
          const steps = await Promise.all([a.users.advanceTotpStep('alice', 2), b.users.advanceTotpStep('alice', 2), a.users.advanceTotpStep('alice', 2), b.users.advanceTotpStep('alice', 2)]);
          assert.equal(steps.filter(Boolean).length, 1);
          const codes = await Promise.all([a.users.consumeRecoveryCode('alice', 'h'), b.users.consumeRecoveryCode('alice', 'h')]);
          assert.equal(codes.filter(Boolean).length, 1);
          await a.denyList.add({ kind: 'grant', value: 'g', notBefore: clock(), expiresAt: clock() + 60, reason: 'r' });
          assert.equal((await b.denyList.changedSince(clock())).length, 1);
          await b.close();
          const c = await reopen(a, clock);
          try {
            assert.equal((await c.users.get('alice'))?.totpLastStep, 2, 'the data survives a restart');
          } finally {
            await c.close();
          }
        } finally {
          await b.close();
          await a.close();
        }
      });
    }
  });
}
