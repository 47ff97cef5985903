import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, UnsecuredJWT, type JWK } from 'jose';
import type { Principal } from '../core/principal.ts';
import { createKeyring } from '../secrets/keyring.ts';
import { createIdentitySigner, type IdentitySigner } from './signer.ts';
import { createIdentityVerifier, IdentityVerificationError, type IdentityErrorCode } from './verify.ts';

const ISSUER = 'urn:rampart:gateway';
const bob: Principal = {
  kind: 'user',
  subject: 'bob',
  issuer: 'https://localhost:8443/auth',
  tenant: 't1',
  roles: ['customer'],
  scopes: ['orders:read'],
  amr: ['pwd'],
  claims: {},
};

const refusedWith = (code: IdentityErrorCode) => (e: unknown) => {
  assert.ok(e instanceof IdentityVerificationError, String(e));
  assert.equal(e.code, code, e.reason);
  return true;
};

let dataDir: string;
let signer: IdentitySigner;
/** An attacker's key and a key set that also trusts it (to test checks other than the signature). */
let otherKey: Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
let otherJwk: JWK;

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'rampart-verify-'));
  signer = await createIdentitySigner({ dataDir, keyring: createKeyring(randomBytes(32)), issuer: ISSUER });
  const pair = await generateKeyPair('ES256', { extractable: true });
  otherKey = pair.privateKey;
  otherJwk = { ...(await exportJWK(pair.publicKey)), kid: 'other', alg: 'ES256', use: 'sig' };
});
after(() => rm(dataDir, { recursive: true, force: true }));

const local = (audience = 'orders', issuer = ISSUER) =>
  createIdentityVerifier({ jwks: signer.jwks(), issuer, audience });

function forge(claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  const now = Math.floor(Date.now() / 1000);
  const payload = {
    iss: ISSUER,
    aud: 'orders',
    sub: 'admin',
    iat: now,
    exp: now + 60,
    jti: 'j',
    rampart: { kind: 'user', issuer: 'x', roles: ['admin'], scopes: [], amr: [] },
    ...claims,
  };
  return new SignJWT(payload).setProtectedHeader({ alg: 'ES256', typ: 'rampart-id+jwt', kid: 'other', ...header }).sign(otherKey);
}

describe('createIdentityVerifier', () => {
  it('verify: accepts a token from the signer and returns its claims', async () => {
    const claims = await local().verify(await signer.tokenFor(bob, 'orders', 1));
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.aud, 'orders');
    assert.equal(claims.sub, 'bob');
    assert.deepEqual(claims.rampart, {
      kind: 'user',
      issuer: 'https://localhost:8443/auth',
      tenant: 't1',
      roles: ['customer'],
      scopes: ['orders:read'],
      amr: ['pwd'],
    });
    assert.ok(Object.isFrozen(claims));
  });

  it('verify: refuses a token for another audience (upstream) or from another issuer', async () => {
    const token = await signer.tokenFor(bob, 'users', 1);
    await assert.rejects(local('orders').verify(token), refusedWith('RAMPART_IDENTITY_INVALID'));
    await assert.rejects(local('users', 'urn:other').verify(token), refusedWith('RAMPART_IDENTITY_INVALID'));
  });

  it('verify: refuses an expired token, within a 5 s clock tolerance', async (t) => {
    const signerAt = async (offsetMs: number) => {
      const dir = await mkdtemp(join(tmpdir(), 'rampart-verify-clock-'));
      t.after(() => rm(dir, { recursive: true, force: true }));
      return createIdentitySigner({ dataDir: dir, keyring: createKeyring(randomBytes(32)), issuer: ISSUER, now: () => Date.now() + offsetMs });
    };
    const past = await signerAt(-120_000);
    const verifier = createIdentityVerifier({ jwks: past.jwks(), issuer: ISSUER, audience: 'orders' });
    await assert.rejects(verifier.verify(await past.tokenFor(bob, 'orders', 1)), refusedWith('RAMPART_IDENTITY_EXPIRED'));
    const justExpired = await signerAt(-62_000);
    const tolerant = createIdentityVerifier({ jwks: justExpired.jwks(), issuer: ISSUER, audience: 'orders' });
    assert.equal((await tolerant.verify(await justExpired.tokenFor(bob, 'orders', 1))).sub, 'bob');
  });

  it('verify: refuses alg none and HS256 forged with the public key', async () => {
    const verifier = local();
    const now = Math.floor(Date.now() / 1000);
    const none = new UnsecuredJWT({ rampart: { kind: 'user', issuer: 'x', roles: [], scopes: [], amr: [] } })
      .setIssuer(ISSUER).setAudience('orders').setSubject('admin').setIssuedAt(now).setExpirationTime(now + 60).setJti('j')
      .encode();
    await assert.rejects(verifier.verify(none), refusedWith('RAMPART_IDENTITY_MALFORMED'));
    await assert.rejects(verifier.verify(`${none}c2ln`), refusedWith('RAMPART_IDENTITY_INVALID'));

    const publicJwk = signer.jwks().keys[0];
    for (const secret of [JSON.stringify(publicJwk), `${publicJwk?.x}${publicJwk?.y}`]) {
      const hs = await new SignJWT({ rampart: { kind: 'user', issuer: 'x', roles: ['admin'], scopes: [], amr: [] } })
        .setProtectedHeader({ alg: 'HS256', typ: 'rampart-id+jwt', kid: signer.kid })
        .setIssuer(ISSUER).setAudience('orders').setSubject('admin').setIssuedAt(now).setExpirationTime(now + 60).setJti('j')
        .sign(new TextEncoder().encode(secret));
      await assert.rejects(verifier.verify(hs), refusedWith('RAMPART_IDENTITY_INVALID'));
    }
  });

  it('verify: refuses a signature by another key, even under the signer\'s kid', async () => {
    await assert.rejects(local().verify(await forge({})), refusedWith('RAMPART_IDENTITY_INVALID'));
    await assert.rejects(local().verify(await forge({}, { kid: signer.kid })), refusedWith('RAMPART_IDENTITY_INVALID'));
  });

  it('verify: refuses a wrong or missing typ (another kind of JWT)', async () => {
    const trusting = createIdentityVerifier({ jwks: { keys: [otherJwk] }, issuer: ISSUER, audience: 'orders' });
    assert.equal((await trusting.verify(await forge({}))).sub, 'admin'); // the control: all else is right
    for (const typ of ['JWT', 'at+jwt', undefined]) {
      await assert.rejects(trusting.verify(await forge({}, { typ })), refusedWith('RAMPART_IDENTITY_INVALID'));
    }
  });

  it('verify: refuses a lifetime above 60 s, several audiences and a malformed rampart claim', async () => {
    const trusting = createIdentityVerifier({ jwks: { keys: [otherJwk] }, issuer: ISSUER, audience: 'orders' });
    const now = Math.floor(Date.now() / 1000);
    await assert.rejects(trusting.verify(await forge({ exp: now + 3600 })), refusedWith('RAMPART_IDENTITY_MALFORMED'));
    await assert.rejects(trusting.verify(await forge({ iat: now - 600 })), refusedWith('RAMPART_IDENTITY_EXPIRED'));
    await assert.rejects(trusting.verify(await forge({ aud: ['orders', 'users'] })), refusedWith('RAMPART_IDENTITY_MALFORMED'));
    await assert.rejects(trusting.verify(await forge({ rampart: { kind: 'root', issuer: 'x', roles: [], scopes: [], amr: [] } })), refusedWith('RAMPART_IDENTITY_MALFORMED'));
    await assert.rejects(trusting.verify(await forge({ rampart: { kind: 'user', issuer: 'x', roles: 'admin', scopes: [], amr: [] } })), refusedWith('RAMPART_IDENTITY_MALFORMED'));
  });

  it('verify: refuses a missing, repeated, oversized or non-JWS header', async () => {
    const verifier = local();
    const token = await signer.tokenFor(bob, 'orders', 1);
    await assert.rejects(verifier.verify(undefined), refusedWith('RAMPART_IDENTITY_MISSING'));
    await assert.rejects(verifier.verify(''), refusedWith('RAMPART_IDENTITY_MISSING'));
    await assert.rejects(verifier.verify([token, token]), refusedWith('RAMPART_IDENTITY_MISSING'));
    await assert.rejects(verifier.verify(`${token}, ${token}`), refusedWith('RAMPART_IDENTITY_MALFORMED'));
    await assert.rejects(verifier.verify(`Bearer ${token}`), refusedWith('RAMPART_IDENTITY_MALFORMED'));
    await assert.rejects(verifier.verify('a'.repeat(9000) + '.b.c'), refusedWith('RAMPART_IDENTITY_MALFORMED'));
  });

  it('options: exactly one key source; https only, except on loopback', () => {
    assert.throws(() => createIdentityVerifier({ issuer: ISSUER, audience: 'a' }), /exactly one/);
    assert.throws(() => createIdentityVerifier({ jwksUrl: 'http://gateway.internal/jwks', issuer: ISSUER, audience: 'a' }), /https/);
    assert.throws(() => createIdentityVerifier({ jwks: { keys: [] }, issuer: ISSUER, audience: '' }), TypeError);
  });
});

describe('createIdentityVerifier with jwksUrl', () => {
  let pki: string;
  let https: Server;
  let httpsUrl: string;

  before(async () => {
    pki = await mkdtemp(join(tmpdir(), 'rampart-verify-pki-'));
    await writeFile(join(pki, 'srv.ext'), 'subjectAltName=DNS:localhost\n');
    const run = (...args: string[]) => execFileSync('openssl', args, { cwd: pki, stdio: 'pipe' });
    run('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt',
      '-days', '1', '-subj', '/CN=Test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign');
    run('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'srv.key', '-out', 'srv.csr', '-subj', '/CN=localhost');
    run('x509', '-req', '-in', 'srv.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'srv.crt', '-days', '1',
      '-extfile', 'srv.ext');
    https = createHttpsServer(
      { key: await readFile(join(pki, 'srv.key')), cert: await readFile(join(pki, 'srv.crt')) },
      (req, res) => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(signer.jwks()));
      },
    );
    await new Promise<void>((resolve) => https.listen(0, '127.0.0.1', resolve));
    httpsUrl = `https://localhost:${(https.address() as AddressInfo).port}/.well-known/rampart/identity-jwks.json`;
  });
  after(async () => {
    https.closeAllConnections();
    await new Promise((resolve) => https.close(resolve));
    await rm(pki, { recursive: true, force: true });
  });

  it('fetches the JWKS over TLS from a server signed by the given CA', async () => {
    const verifier = createIdentityVerifier({ jwksUrl: httpsUrl, ca: await readFile(join(pki, 'ca.crt')), issuer: ISSUER, audience: 'orders' });
    try {
      assert.equal((await verifier.verify(await signer.tokenFor(bob, 'orders', 1))).sub, 'bob');
      await assert.rejects(verifier.verify(await forge({})), refusedWith('RAMPART_IDENTITY_INVALID'));
    } finally {
      await verifier.close();
    }
  });

  it('fails closed, as keys unavailable, when the server is not trusted or not there', async () => {
    const untrusting = createIdentityVerifier({ jwksUrl: httpsUrl, issuer: ISSUER, audience: 'orders' });
    const token = await signer.tokenFor(bob, 'orders', 1);
    await assert.rejects(untrusting.verify(token), refusedWith('RAMPART_IDENTITY_KEYS_UNAVAILABLE'));
    await untrusting.close();

    const closed = createHttpServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const nobody = createIdentityVerifier({ jwksUrl: `http://127.0.0.1:${port}/jwks`, issuer: ISSUER, audience: 'orders' });
    await assert.rejects(nobody.verify(token), refusedWith('RAMPART_IDENTITY_KEYS_UNAVAILABLE'));
    await nobody.close();
  });

  it('refuses a JWKS response larger than 256 KB', async () => {
    const big = createHttpServer((req, res) => res.end(JSON.stringify({ keys: [], pad: 'x'.repeat(300_000) })));
    await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve));
    const verifier = createIdentityVerifier({
      jwksUrl: `http://127.0.0.1:${(big.address() as AddressInfo).port}/jwks`,
      issuer: ISSUER,
      audience: 'orders',
    });
    try {
      await assert.rejects(verifier.verify(await signer.tokenFor(bob, 'orders', 1)), refusedWith('RAMPART_IDENTITY_KEYS_UNAVAILABLE'));
    } finally {
      await verifier.close();
      big.closeAllConnections();
      await new Promise((resolve) => big.close(resolve));
    }
  });
});
