/**
 * The authn stage end to end (issue 3 §6, §7, S3, S8, S9): real TLS, a real SQLite store, a real
 * OpenID provider on loopback HTTPS, real upstreams. One test per attack, each expecting the exact
 * status, Rampart code, RFC 6750 error and the reason in the log.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { timingSafeEqual } from 'node:crypto';
import { startTestGateway, type TestGateway, withAuthenticatedPolicy } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { startTestIdp, type TestIdp } from '../../src/stages/authn/test-idp.ts';
import { makeKey, signToken, accessToken, now, TestBuiltinIssuer, type TestKey } from '../../src/stages/authn/testing.ts';
import type { ApiKeyCheck, ApiKeyVerifier } from '../../src/core/authn-port.ts';
import type { ApiKeyRecord } from '../../src/store/types.ts';

const BUILTIN = 'https://localhost:8443/auth';
const API = 'https://api.test';

let echo: EchoServer;
let idp: TestIdp;
let attacker: TestIdp;
let t: TestGateway;
let builtinKey: TestKey;
let builtin: TestBuiltinIssuer;
let corpRsa: TestKey;
let corpEc: TestKey;

/** API keys double: what src/accounts provides (format, lookup, constant-time compare, expiry, revocation). */
class Keys implements ApiKeyVerifier {
  readonly records = new Map<string, { record: ApiKeyRecord; secret: string }>();
  add(id: string, secret: string, extra: Partial<ApiKeyRecord> = {}): string {
    this.records.set(id, { secret, record: { id, name: `key ${id}`, secretMac: 'x', pepperKid: 'k', roles: ['service'], scopes: ['orders:read'], createdAt: now() - 10, ...extra } });
    return `rmp_${id}_${secret}`;
  }
  async verify(presented: string, at: number): Promise<ApiKeyCheck> {
    const m = /^rmp_([a-z0-9]+)_([A-Za-z0-9]+)$/.exec(presented);
    if (!m) return { ok: false, reason: 'malformed' };
    const e = this.records.get(m[1] as string);
    if (!e) return { ok: false, reason: 'unknown' };
    const a = Buffer.from(m[2] as string);
    const b = Buffer.from(e.secret);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'mismatch' };
    if (e.record.revokedAt !== undefined) return { ok: false, reason: 'revoked' };
    if (e.record.expiresAt !== undefined && e.record.expiresAt <= at) return { ok: false, reason: 'expired' };
    return { ok: true, key: e.record };
  }
}
const keys = new Keys();

const config = (extra = '') => `
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - id: echo
    targets: [{ url: ${echo.url} }]
    retries: { attempts: 0 }
authentication:
  denyList: { pollSeconds: 1, maxStalenessSeconds: 30 }
  accountCacheSeconds: 0
  apiKeys:
    enabled: true
    cacheSeconds: 0
    bindings: [{ subject: "key:svc", roles: [reporting] }]
  builtin:
    audiences: ["${API}", "https://orders.test"]
    maxLifetimeSeconds: 900
    bindings: [{ subject: "user:alice", roles: [auditor] }]
  issuers:
    - id: corp
      issuer: "${idp.issuer}"
      audiences: [rampart-api]
      algorithms: [RS256, ES256]
      requireTyp: JWT
      ca: idp-ca.pem
      allowPrivateNetwork: true
      cooldownSeconds: 1
      maxLifetimeSeconds: 3600
      roles: { claim: realm_access.roles, map: { gw-admin: [admin] } }
${extra}
routes:
  - { id: api, path: /api/echo, upstream: echo, stripPrefix: /api }
  - { id: public, path: /api/public, upstream: echo, stripPrefix: /api, authn: { required: false } }
  - { id: corp-only, path: /api/corp, upstream: echo, stripPrefix: /api, authn: { issuers: [corp] } }
  - { id: orders, path: /api/orders, upstream: echo, stripPrefix: /api, authn: { audiences: ["https://orders.test"] } }
  - { id: no-keys, path: /api/nokeys, upstream: echo, stripPrefix: /api, authn: { apiKeys: false } }
`;

before(async () => {
  echo = await startEcho();
  corpRsa = makeKey('RS256', 'corp-rsa');
  corpEc = makeKey('ES256', 'corp-ec');
  idp = await startTestIdp({ keys: [corpRsa, corpEc] });
  attacker = await startTestIdp({ path: '/evil' });
  builtinKey = makeKey('ES256', 'builtin-1');
  builtin = new TestBuiltinIssuer(BUILTIN, [API], [builtinKey]);
  t = await startTestGateway(withAuthenticatedPolicy(config()), { files: { 'idp-ca.pem': idp.caPem }, authn: { builtin, apiKeys: keys } });
  const at = now();
  await t.gw.store.users.create({ id: 'alice', username: 'alice', passwordHash: '$scrypt$x', mustChangePassword: false, roles: ['customer'], recoveryCodeHashes: [], disabled: false, createdAt: at, updatedAt: at });
  await t.gw.store.users.create({ id: 'bob', username: 'bob', passwordHash: '$scrypt$x', mustChangePassword: false, roles: [], recoveryCodeHashes: [], disabled: false, createdAt: at, updatedAt: at });
  await t.gw.store.clients.create({ clientId: 'batch', metadata: {}, roles: ['batch-runner'], disabled: false, createdAt: at });
});
after(async () => {
  await t?.close();
  await Promise.all([echo?.close(), idp?.close(), attacker?.close()]);
});

/** A built-in user token (RFC 9068 + the claims contract of src/core/authn-port.ts). */
function userToken(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key = builtinKey): string {
  return accessToken(key, { iss: BUILTIN, aud: API, sub: 'alice', client_id: 'web', scope: 'orders:read profile', auth_time: now() - 5, amr: ['pwd', 'otp'], acr: 'urn:rampart:mfa', grant_id: 'grant-1', ...claims }, header);
}

function corpToken(claims: Record<string, unknown> = {}, header: Record<string, unknown> = {}, key = corpRsa): string {
  const at = now();
  return signToken({ alg: key.alg, typ: 'JWT', kid: key.kid, ...header }, { iss: idp.issuer, aud: 'rampart-api', sub: 'alice', azp: 'corp-app', iat: at, exp: at + 600, realm_access: { roles: ['gw-admin', 'superuser'] }, ...claims }, key);
}

const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

/** Asserts status, code and the challenge; returns the reason of the security event of that request. */
function expectDenied(res: { status: number; headers: Record<string, unknown>; json: () => any }, status: number, code: string, error?: string): string | undefined {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}`);
  assert.equal(res.headers['content-type'], 'application/problem+json');
  const p = res.json();
  assert.equal(p.code, code);
  assert.equal(p.status, status);
  const challenge = String(res.headers['www-authenticate'] ?? '');
  if (error) assert.match(challenge, new RegExp(`error="${error}"`));
  else if (status === 401) assert.doesNotMatch(challenge, /error=/);
  // Security events are logged synchronously while the request is denied, before the answer.
  const ev = t.logs.findLast((l) => l.log === 'security')?.event as Record<string, unknown> | undefined;
  assert.equal(ev?.['rampart.code'], code);
  return ev?.['event.reason'] as string | undefined;
}

/** The access-log line of a request (written when its response closes: waited for, bounded). */
async function accessLine(requestId: unknown): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 100; i++) {
    const line = t.logs.find((l) => l.log === 'access' && l.requestId === requestId);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
  return undefined;
}

function identityOf(seen: { headers: Record<string, string> }): Record<string, any> {
  const [, payload] = String(seen.headers['rampart-identity']).split('.');
  return JSON.parse(Buffer.from(payload as string, 'base64url').toString());
}

test('no credentials: 401 with a challenge and no error code (RFC 6750 §3.1)', async () => {
  const res = await t.fetch('/api/echo');
  expectDenied(res, 401, 'RAMPART_AUTHN_REQUIRED');
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="rampart", ApiKey realm="rampart", header="X-API-Key"');
  const nokeys = await t.fetch('/api/nokeys');
  assert.equal(nokeys.headers['www-authenticate'], 'Bearer realm="rampart"');
});

test('a route with required: false serves anonymous callers, but a bad token is still refused', async () => {
  const ok = await t.fetch('/api/public');
  assert.equal(ok.status, 200);
  assert.equal(identityOf(ok.json()).rampart.kind, 'anonymous');
  expectDenied(await t.fetch('/api/public', bearer('abc.def.ghi')), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token');
});

test('a valid built-in token: the principal reaches the upstream, credentials do not', async () => {
  const res = await t.fetch('/api/echo', bearer(userToken()));
  assert.equal(res.status, 200, res.text);
  const seen = res.json();
  assert.equal(seen.headers.authorization, undefined);
  const id = identityOf(seen);
  assert.equal(id.sub, 'alice');
  assert.equal(id.rampart.kind, 'user');
  assert.equal(id.rampart.issuer, BUILTIN);
  assert.deepEqual(id.rampart.roles, ['auditor', 'customer'], 'store roles + config binding');
  assert.deepEqual(id.rampart.scopes, ['orders:read', 'profile']);
  assert.deepEqual(id.rampart.amr, ['pwd', 'otp']);
  assert.equal(id.rampart.acr, 'urn:rampart:mfa');
  assert.equal(typeof id.rampart.authTime, 'number');
  const line = await accessLine(res.headers['x-request-id']);
  assert.equal(line?.principal, 'user:alice');
  assert.deepEqual(line?.authn, { method: 'bearer', cached: false, issuer: 'builtin' });
  // Seen before: served from the cache.
  const token = userToken();
  await t.fetch('/api/echo', bearer(token));
  const again = await t.fetch('/api/echo', bearer(token));
  assert.equal(((await accessLine(again.headers['x-request-id']))?.authn as any)?.cached, true);
  assert.ok(!t.rawLogs().includes(token.split('.')[2] as string), 'the token never reaches the log');
});

test('a client-credentials token is a client principal with the client record\'s roles', async () => {
  const res = await t.fetch('/api/echo', bearer(accessToken(builtinKey, { iss: BUILTIN, aud: API, sub: 'batch', client_id: 'batch', scope: 'orders:read' })));
  assert.equal(res.status, 200, res.text);
  const id = identityOf(res.json());
  assert.equal(id.rampart.kind, 'client');
  assert.deepEqual(id.rampart.roles, ['batch-runner']);
});

test('attack: alg none and its case variants → 401 invalid_token (alg_not_allowed)', async () => {
  for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
    const [h, p] = userToken({}, { alg }).split('.');
    for (const token of [`${h}.${p}.`, `${h}.${p}.c2ln`]) {
      const res = await t.fetch('/api/echo', bearer(token.endsWith('.') ? `${token}x` : token));
      assert.equal(expectDenied(res, 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'alg_not_allowed', alg);
    }
  }
});

test('attack: RS256 → HS256 key confusion (HMAC keyed with the issuer\'s public key) → 401 (alg_not_allowed)', async () => {
  const pem = corpRsa.publicKey.export({ type: 'spki', format: 'pem' });
  const at = now();
  for (const secret of [pem, JSON.stringify(corpRsa.jwk), Buffer.from(corpRsa.jwk.n as string, 'base64url')]) {
    const forged = signToken({ alg: 'HS256', typ: 'JWT', kid: corpRsa.kid }, { iss: idp.issuer, aud: 'rampart-api', sub: 'root', iat: at, exp: at + 60 }, { hmac: secret });
    assert.equal(expectDenied(await t.fetch('/api/echo', bearer(forged)), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'alg_not_allowed');
  }
});

test('attack: kid injection (path traversal, SQL, unknown, oversized) → 401, at most one JWKS refetch per cooldown', async () => {
  await t.fetch('/api/echo', bearer(corpToken())); // keys fetched
  const before = idp.requests.filter((r) => r.endsWith('/jwks')).length;
  for (const kid of ['../../../../dev/null', "' OR '1'='1", 'corp-rsa\u0000', 'unknown-kid', '/etc/passwd', '{"$ne":null}']) {
    const res = await t.fetch('/api/echo', bearer(corpToken({}, { kid })));
    assert.equal(expectDenied(res, 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'kid_unknown', kid);
  }
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(corpToken({}, { kid: 'k'.repeat(300) }))), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'kid_invalid');
  const after = idp.requests.filter((r) => r.endsWith('/jwks')).length;
  assert.ok(after - before <= 1, `refetches: ${after - before}`);
});

test('attack: jku / x5u / embedded jwk / x5c headers → 401 and no outbound request', async () => {
  const evil = makeKey('RS256', 'evil');
  attacker.keys = [evil];
  const cases: Record<string, unknown> = {
    jku: `${attacker.issuer}/jwks`,
    x5u: `${attacker.issuer}/cert.pem`,
    jwk: evil.jwk,
    x5c: ['MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA'],
  };
  for (const [name, value] of Object.entries(cases)) {
    const res = await t.fetch('/api/echo', bearer(corpToken({ sub: 'root' }, { kid: 'evil', [name]: value }, evil)));
    assert.equal(expectDenied(res, 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'key_header', name);
  }
  assert.deepEqual(attacker.requests, [], 'the gateway never fetched from the attacker');
});

test('attack: expired, future nbf, missing exp, lifetime over the maximum', async () => {
  const at = now();
  const expired = await t.fetch('/api/echo', bearer(userToken({ iat: at - 400, exp: at - 100 })));
  assert.equal(expectDenied(expired, 401, 'RAMPART_AUTHN_TOKEN_EXPIRED', 'invalid_token'), 'expired');
  assert.match(String(expired.headers['www-authenticate']), /error_description="The access token expired"/);
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(userToken({ nbf: at + 600 }))), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'nbf_future');
  const [h, , ] = userToken().split('.');
  const noExp = signToken(JSON.parse(Buffer.from(h as string, 'base64url').toString()), { iss: BUILTIN, aud: API, sub: 'alice', iat: at, jti: 'x', auth_time: at }, builtinKey);
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(noExp)), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'exp_missing');
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(userToken({ iat: at - 10, exp: at + 3600 }))), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'lifetime_exceeded');
});

test('attack: wrong iss, wrong aud, wrong typ (an ID token used as an access token)', async () => {
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(userToken({ iss: 'https://evil.example' }))), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'issuer_unknown');
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(userToken({ aud: 'https://other.test' }))), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'aud_mismatch');
  // An OIDC ID token of the built-in server: typ JWT, aud = the client id.
  const idToken = accessToken(builtinKey, { iss: BUILTIN, aud: 'web', sub: 'alice', auth_time: now(), nonce: 'n' }, { typ: 'JWT' });
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(idToken)), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'typ_mismatch');
  const untyped = accessToken(builtinKey, { iss: BUILTIN, aud: API, sub: 'alice', auth_time: now() }, { typ: undefined });
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(untyped)), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'typ_mismatch');
  // Keycloak-style ID token (typ JWT in the header, `typ: ID` claim) with the API audience.
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(corpToken({ typ: 'ID' }))), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'id_token');
});

test('attack: tampered payload → 401 (signature_invalid)', async () => {
  const [h, p, s] = userToken().split('.');
  const claims = JSON.parse(Buffer.from(p as string, 'base64url').toString());
  claims.sub = 'bob';
  claims.scope = 'admin';
  const forged = `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(forged)), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'signature_invalid');
});

test('attack: token in the query string → 400 invalid_request, never used', async () => {
  const token = userToken();
  for (const q of [`access_token=${token}`, `x=1&ACCESS_TOKEN=${token}`, `access%5Ftoken=${token}`]) {
    const res = await t.fetch(`/api/echo?${q}`);
    expectDenied(res, 400, 'RAMPART_AUTHN_TOKEN_IN_QUERY', 'invalid_request');
  }
  // Even alongside a valid header.
  expectDenied(await t.fetch(`/api/echo?access_token=x`, bearer(token)), 400, 'RAMPART_AUTHN_TOKEN_IN_QUERY', 'invalid_request');
});

test('malformed credentials → 400 invalid_request, problem+json, nothing leaked', async () => {
  for (const authorization of ['Bearer', 'Bearer a b', 'Bearer "x"', 'Bearer ä']) {
    const res = await t.fetch('/api/echo', { headers: { authorization } });
    expectDenied(res, 400, 'RAMPART_AUTHN_BAD_REQUEST', 'invalid_request');
  }
  for (const token of ['x', 'a.b', 'a.b.c', '....', `${'A'.repeat(40)}.${'B'.repeat(40)}.${'C'.repeat(40)}`, 'eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOjF9.x']) {
    const res = await t.fetch('/api/echo', bearer(token));
    expectDenied(res, 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token');
    assert.ok(!/\bat\b.*\.ts:\d+/.test(res.text));
  }
  expectDenied(await t.fetch('/api/echo', { headers: { authorization: `Bearer ${userToken()}`, 'x-api-key': 'rmp_a_b' } }), 400, 'RAMPART_AUTHN_BAD_REQUEST', 'invalid_request');
});

test('revoked grant: every access token of the grant stops working, cached or not (S9)', async () => {
  const token = userToken({ grant_id: 'grant-revoked' });
  assert.equal((await t.fetch('/api/echo', bearer(token))).status, 200);
  assert.equal((await t.fetch('/api/echo', bearer(token))).status, 200, 'cached now');
  await t.gw.store.denyList.add({ kind: 'grant', value: 'grant-revoked', notBefore: now(), expiresAt: now() + 3600, reason: 'refresh token reuse' });
  let res;
  for (let i = 0; i < 100; i++) {
    res = await t.fetch('/api/echo', bearer(token));
    if (res.status !== 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(expectDenied(res!, 401, 'RAMPART_AUTHN_TOKEN_REVOKED', 'invalid_token'), 'deny-list grant');
  const another = userToken({ grant_id: 'grant-revoked' });
  expectDenied(await t.fetch('/api/echo', bearer(another)), 401, 'RAMPART_AUTHN_TOKEN_REVOKED', 'invalid_token');
  assert.equal((await t.fetch('/api/echo', bearer(userToken({ grant_id: 'grant-other' })))).status, 200, 'other grants are untouched');
});

test('a disabled or deleted user\'s tokens are refused (account store read per request)', async () => {
  const token = userToken({ sub: 'bob' });
  assert.equal((await t.fetch('/api/echo', bearer(token))).status, 200);
  await t.gw.store.users.update('bob', { disabled: true });
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(token)), 401, 'RAMPART_AUTHN_TOKEN_REVOKED', 'invalid_token'), 'user disabled');
  await t.gw.store.users.update('bob', { disabled: false });
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(userToken({ sub: 'mallory' }))), 401, 'RAMPART_AUTHN_TOKEN_REVOKED', 'invalid_token'), 'user no longer exists');
});

test('API key: accepted with its record\'s roles and scopes, never forwarded upstream', async () => {
  const key = keys.add('svc', 'A'.repeat(43));
  const res = await t.fetch('/api/echo', { headers: { 'x-api-key': key } });
  assert.equal(res.status, 200, res.text);
  const seen = res.json();
  assert.equal(seen.headers['x-api-key'], undefined);
  const id = identityOf(seen);
  assert.equal(id.rampart.kind, 'key');
  assert.equal(id.rampart.keyId, 'svc');
  assert.deepEqual(id.rampart.roles, ['reporting', 'service']);
  assert.deepEqual(id.rampart.scopes, ['orders:read']);
  expectDenied(await t.fetch('/api/nokeys', { headers: { 'x-api-key': key } }), 401, 'RAMPART_AUTHN_API_KEY_INVALID');
});

test('API key: wrong secret, unknown, malformed, expired and revoked keys → 401, one answer for all', async () => {
  keys.add('k2', 'B'.repeat(43));
  keys.add('k3', 'C'.repeat(43), { expiresAt: now() - 1 });
  const revoked = keys.add('k4', 'D'.repeat(43));
  assert.equal((await t.fetch('/api/echo', { headers: { 'x-api-key': revoked } })).status, 200);
  (keys.records.get('k4') as { record: ApiKeyRecord }).record = { ...(keys.records.get('k4') as { record: ApiKeyRecord }).record, revokedAt: now() };
  const cases: Record<string, string> = { 'key mismatch': `rmp_k2_${'X'.repeat(43)}`, 'key unknown': `rmp_zz_${'B'.repeat(43)}`, 'key malformed': 'not-a-key', 'key expired': `rmp_k3_${'C'.repeat(43)}`, 'key revoked': revoked };
  for (const [reason, key] of Object.entries(cases)) {
    const res = await t.fetch('/api/echo', { headers: { 'x-api-key': key } });
    assert.equal(expectDenied(res, 401, 'RAMPART_AUTHN_API_KEY_INVALID'), reason, reason);
    assert.match(String(res.headers['www-authenticate']), /^ApiKey realm="rampart", header="X-API-Key"/);
    assert.equal(res.json().title, 'Invalid API key');
  }
});

test('API key withdrawn through the deny-list is refused (S9 key entries)', async () => {
  const key = keys.add('k5', 'E'.repeat(43));
  assert.equal((await t.fetch('/api/echo', { headers: { 'x-api-key': key } })).status, 200);
  await t.gw.store.denyList.add({ kind: 'key', value: 'k5', notBefore: now(), expiresAt: now() + 3600, reason: 'revoked' });
  let res;
  for (let i = 0; i < 100; i++) {
    res = await t.fetch('/api/echo', { headers: { 'x-api-key': key } });
    if (res.status !== 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(expectDenied(res!, 401, 'RAMPART_AUTHN_API_KEY_INVALID'), 'deny-list key');
});

test('external issuer: discovery + JWKS over HTTPS, roles from mapped claims only (S3)', async () => {
  const res = await t.fetch('/api/echo', bearer(corpToken()));
  assert.equal(res.status, 200, res.text);
  const id = identityOf(res.json());
  assert.equal(id.sub, 'alice');
  assert.equal(id.rampart.issuer, idp.issuer);
  assert.equal(id.rampart.clientId, 'corp-app');
  assert.deepEqual(id.rampart.roles, ['admin'], 'gw-admin is mapped; superuser is not; the built-in binding of user:alice does not apply');
  assert.ok(idp.requests.includes('/realms/test/.well-known/openid-configuration'));
  const ec = await t.fetch('/api/echo', bearer(corpToken({}, {}, corpEc)));
  assert.equal(ec.status, 200);
});

test('route settings: accepted issuers and audiences narrow what a route takes', async () => {
  assert.equal(expectDenied(await t.fetch('/api/corp', bearer(userToken())), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'issuer_not_accepted');
  assert.equal((await t.fetch('/api/corp', bearer(corpToken()))).status, 200);
  assert.equal(expectDenied(await t.fetch('/api/orders', bearer(userToken())), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'aud_not_accepted_on_route');
  assert.equal((await t.fetch('/api/orders', bearer(userToken({ aud: 'https://orders.test' })))).status, 200);
});

test('key rotation of the built-in issuer clears the token cache', async () => {
  const token = userToken();
  assert.equal((await t.fetch('/api/echo', bearer(token))).status, 200);
  const next = makeKey('ES256', 'builtin-2');
  builtin.rotate([next]);
  assert.equal(expectDenied(await t.fetch('/api/echo', bearer(token)), 401, 'RAMPART_AUTHN_TOKEN_INVALID', 'invalid_token'), 'kid_unknown', 'the cached entry went with the rotation');
  assert.equal((await t.fetch('/api/echo', bearer(userToken({}, {}, next)))).status, 200);
  builtin.rotate([next, builtinKey]);
});

test('security events: denials are published with ECS names', async () => {
  await t.fetch('/api/echo', bearer(userToken({ aud: 'nope' })));
  const e = t.logs.findLast((l) => l.log === 'security' && (l.event as any)?.['event.action'] === 'authn.token_invalid')?.event as Record<string, unknown>;
  assert.equal(e['event.category']?.toString(), 'authentication');
  assert.equal(e['event.outcome'], 'failure');
  assert.equal(e['rampart.code'], 'RAMPART_AUTHN_TOKEN_INVALID');
  assert.equal(e['event.reason'], 'aud_mismatch');
  assert.equal(e['http.response.status_code'], 401);
});
