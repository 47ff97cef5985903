import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { ANONYMOUS, type Principal } from '../core/principal.ts';
import { createKeyring } from '../secrets/keyring.ts';
import { createIdentitySigner, ROTATION_SKEW_SECONDS, type IdentitySignerOptions } from './signer.ts';
import { createIdentityVerifier } from './verify.ts';
import { IdentityKeyFileError } from './key-store.ts';

const alice: Principal = {
  kind: 'user',
  subject: 'alice',
  issuer: 'https://localhost:8443/auth',
  roles: ['customer'],
  scopes: ['orders:read', 'orders:write'],
  amr: ['pwd', 'otp'],
  acr: 'urn:rampart:mfa',
  authTime: 1_700_000_000,
  tokenId: 'tok-1',
  claims: { email: 'alice@example.com', secret: 'never forwarded' },
};

async function setup(t: TestContext, extra: Partial<IdentitySignerOptions> = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'rampart-id-'));
  t.after(() => rm(dataDir, { recursive: true, force: true }));
  let clock = Date.now(); // near the real clock: jose checks exp against it
  const master = randomBytes(32);
  const options = {
    dataDir,
    keyring: createKeyring(master),
    issuer: 'urn:rampart:gateway',
    now: () => clock,
    ...extra,
  };
  const signer = await createIdentitySigner(options);
  return { dataDir, master, options, signer, tick: (ms: number) => (clock += ms), now: () => clock };
}

describe('createIdentitySigner', () => {
  it('persists its own ES256 key sealed at <dataDir>/identity-key.json (0600) and reuses it', async (t) => {
    const { dataDir, options, signer } = await setup(t);
    const path = join(dataDir, 'identity-key.json');
    if (process.platform !== 'win32') assert.equal((await stat(path)).mode & 0o777, 0o600);
    const file = JSON.parse(await readFile(path, 'utf8'));
    assert.equal(file.current.kid, signer.kid);
    assert.match(file.current.sealed, /^rk1\./);
    assert.ok(!JSON.stringify(file).includes('"d"'), 'no private key in clear');
    const again = await createIdentitySigner(options);
    assert.equal(again.kid, signer.kid);
  });

  it('refuses to start when the key file was sealed by another master key', async (t) => {
    const { options } = await setup(t);
    await assert.rejects(
      createIdentitySigner({ ...options, keyring: createKeyring(randomBytes(32)) }),
      (e: unknown) => e instanceof IdentityKeyFileError && /master key/.test(e.message),
    );
  });

  it('reseals the key file after a master-key rotation', async (t) => {
    const { dataDir, master, options, signer } = await setup(t);
    const rotated = createKeyring([randomBytes(32), master]);
    const again = await createIdentitySigner({ ...options, keyring: rotated });
    assert.equal(again.kid, signer.kid);
    const file = JSON.parse(await readFile(join(dataDir, 'identity-key.json'), 'utf8'));
    assert.equal(rotated.needsReseal('identity-key', file.current.sealed), false);
  });

  it('refuses a lifetime above 60 s (S2) or below 5 s', async (t) => {
    await assert.rejects(setup(t, { lifetimeSeconds: 61 }), /from 5 to 60/);
    await assert.rejects(setup(t, { lifetimeSeconds: 3600 }), RangeError);
    await assert.rejects(setup(t, { lifetimeSeconds: 4 }), RangeError);
    await assert.rejects(setup(t, { issuer: '' }), TypeError);
  });

  it('tokenFor: typ rampart-id+jwt, kid, iss/aud/sub/iat/exp/jti and the rampart claim only', async (t) => {
    const { signer, now } = await setup(t, { lifetimeSeconds: 45 });
    const token = await signer.tokenFor(alice, 'orders', 1);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'ES256', typ: 'rampart-id+jwt', kid: signer.kid });
    const claims = decodeJwt(token);
    assert.equal(claims.iss, 'urn:rampart:gateway');
    assert.equal(claims.aud, 'orders');
    assert.equal(claims.sub, 'alice');
    assert.equal(claims.iat, Math.floor(now() / 1000));
    assert.equal(claims.exp, (claims.iat ?? 0) + 45);
    assert.match(String(claims.jti), /^[A-Za-z0-9_-]{22}$/);
    assert.deepEqual(claims.rampart, {
      kind: 'user',
      issuer: 'https://localhost:8443/auth',
      roles: ['customer'],
      scopes: ['orders:read', 'orders:write'],
      amr: ['pwd', 'otp'],
      acr: 'urn:rampart:mfa',
      authTime: 1_700_000_000,
    });
    assert.ok(!token.includes('never') && !JSON.stringify(claims).includes('tok-1'));
    const anon = decodeJwt(await signer.tokenFor(ANONYMOUS, 'users', 1));
    assert.deepEqual(anon.rampart, { kind: 'anonymous', issuer: 'rampart', roles: [], scopes: [], amr: [] });
  });

  it('tokenFor: reuses a token until less than a third of its lifetime remains', async (t) => {
    const { signer, tick } = await setup(t);
    const first = await signer.tokenFor(alice, 'orders', 1);
    tick(39_000);
    assert.equal(await signer.tokenFor(alice, 'orders', 1), first);
    tick(1_000); // 40 s of 60: 20 s remain, a third
    const second = await signer.tokenFor(alice, 'orders', 1);
    assert.notEqual(second, first);
    assert.equal(await signer.tokenFor(alice, 'orders', 1), second);
    assert.deepEqual(signer.stats(), { size: 1, hits: 2, signatures: 2 });
  });

  it('tokenFor: one cache entry per principal, upstream, generation and propagated claims', async (t) => {
    const { signer } = await setup(t);
    const base = await signer.tokenFor(alice, 'orders', 1);
    assert.notEqual(await signer.tokenFor(alice, 'users', 1), base);
    assert.notEqual(await signer.tokenFor(alice, 'orders', 2), base);
    assert.notEqual(await signer.tokenFor({ ...alice, subject: 'bob' }, 'orders', 1), base);
    assert.notEqual(await signer.tokenFor({ ...alice, issuer: 'https://idp.example' }, 'orders', 1), base);
    // Same user, another access token with fewer scopes: its identity token must not carry more.
    const narrow = await signer.tokenFor({ ...alice, scopes: ['orders:read'] }, 'orders', 1);
    assert.deepEqual((decodeJwt(narrow).rampart as { scopes: string[] }).scopes, ['orders:read']);
    assert.equal(await signer.tokenFor(alice, 'orders', 1), base);
  });

  it('tokenFor: a new principal object per request (as authn makes them) with the same identity and claim shares one token', async (t) => {
    const { signer } = await setup(t);
    const first = await signer.tokenFor({ ...alice, roles: [...alice.roles] }, 'orders', 1);
    for (let i = 0; i < 5; i++) assert.equal(await signer.tokenFor({ ...alice, roles: [...alice.roles], tokenId: `tok-${i}` }, 'orders', 1), first);
    assert.equal(signer.stats().signatures, 1);
    // A role or a tenant more is another assertion: another token.
    assert.notEqual(await signer.tokenFor({ ...alice, roles: ['customer', 'admin'] }, 'orders', 1), first);
    assert.notEqual(await signer.tokenFor({ ...alice, tenant: 't1' }, 'orders', 1), first);
    assert.equal(signer.stats().signatures, 3);
  });

  it('tokenFor: concurrent calls share one signature; the cache is bounded (LRU)', async (t) => {
    const { signer } = await setup(t, { cacheSize: 2 });
    const tokens = await Promise.all(Array.from({ length: 20 }, () => signer.tokenFor(alice, 'orders', 1)));
    assert.equal(new Set(tokens).size, 1);
    assert.equal(signer.stats().signatures, 1);
    await signer.tokenFor(alice, 'a', 1);
    await signer.tokenFor(alice, 'orders', 1); // touch: most recently used
    await signer.tokenFor(alice, 'b', 1); // evicts 'a'
    assert.equal(signer.stats().size, 2);
    const before = signer.stats().signatures;
    await signer.tokenFor(alice, 'orders', 1);
    assert.equal(signer.stats().signatures, before);
    await signer.tokenFor(alice, 'a', 1);
    assert.equal(signer.stats().signatures, before + 1);
    await assert.rejects(signer.tokenFor(alice, '', 1), TypeError);
  });

  it('jwks: public keys with kid, alg and use only', async (t) => {
    const { signer } = await setup(t);
    const { keys } = signer.jwks();
    assert.equal(keys.length, 2); // current and the pre-published next
    for (const key of keys) {
      assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
      assert.equal(key.alg, 'ES256');
      assert.equal(key.use, 'sig');
    }
    assert.equal(keys[0]?.kid, signer.kid);
  });

  it('rotate: the pre-published key signs, the old one stays published for lifetime + skew', async (t) => {
    const { signer, options, tick } = await setup(t);
    const oldKid = signer.kid;
    const publishedNext = signer.jwks().keys[1]?.kid;
    const oldToken = await signer.tokenFor(alice, 'orders', 1);
    const verifierBefore = createIdentityVerifier({ jwks: signer.jwks(), issuer: options.issuer, audience: 'orders' });

    await signer.rotate();
    assert.equal(signer.kid, publishedNext);
    const newToken = await signer.tokenFor(alice, 'orders', 1);
    assert.notEqual(newToken, oldToken, 'cache cleared on rotation');
    assert.equal(decodeProtectedHeader(newToken).kid, publishedNext);
    assert.deepEqual(signer.jwks().keys.map((k) => k.kid).slice(0, 1), [publishedNext]);
    assert.ok(signer.jwks().keys.some((k) => k.kid === oldKid));
    // A service holding the JWKS fetched before the rotation already knows the new key,
    // and one that refreshes it still accepts tokens signed before the rotation.
    assert.equal((await verifierBefore.verify(newToken)).sub, 'alice');
    const verifierAfter = createIdentityVerifier({ jwks: signer.jwks(), issuer: options.issuer, audience: 'orders' });
    assert.equal((await verifierAfter.verify(oldToken)).sub, 'alice');

    const reloaded = await createIdentitySigner(options);
    assert.equal(reloaded.kid, publishedNext);
    assert.ok(reloaded.jwks().keys.some((k) => k.kid === oldKid));

    tick((60 + ROTATION_SKEW_SECONDS) * 1000);
    assert.ok(!signer.jwks().keys.some((k) => k.kid === oldKid));
    assert.equal(signer.jwks().keys.length, 2);
  });
});
