/**
 * OAuth attacks and flows through the real gateway over HTTPS, each with the exact status and
 * error code: authorization-code reuse, PKCE variants, redirect_uri variants, refresh-token
 * rotation and reuse, client credentials, revocation (RFC 7009), introspection (RFC 7662).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { API, Browser, REDIRECT, WEB_CLIENT, addUser, authorizeUrl, browserLogin, pkce, startAuthGateway, tokenRequest, totpNow, type AuthGateway } from '../../helpers/auth.ts';
import { createKeyring } from '../../../src/secrets/keyring.ts';
import { loadMasterKey } from '../../../src/secrets/master-key.ts';
import { hashClientSecret } from '../../../src/auth-server/provider.ts';

let g: AuthGateway;
let b: Browser;
const secret = randomBytes(20);
const SVC_SECRET = randomBytes(32).toString('base64url');
const basic = (id: string, s: string) => ({ authorization: `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(s)}`).toString('base64')}` });

before(async () => {
  g = await startAuthGateway();
  const keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
  await addUser(g.store, 'alice', 'correct horse battery', { totpSecret: secret, keyring });
  await g.store.clients.create({
    clientId: 'svc', secretHash: hashClientSecret(SVC_SECRET), roles: [], disabled: false, createdAt: 1,
    metadata: { grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read orders:write' },
  });
  // As `rampart clients add` stores it: SHA-256 hex of the secret, and the secret sealed.
  await g.store.clients.create({
    clientId: 'svc-cli', secretHash: createHash('sha256').update(SVC_SECRET).digest('hex'), secretSealed: keyring.seal('client-secrets', SVC_SECRET, 'svc-cli'), roles: [], disabled: false, createdAt: 1,
    metadata: { grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read' },
  });
  b = new Browser(await g.ca(), g.base);
});
after(async () => {
  await b.close();
  await g.close();
});

let users = 0;
/** Logs a fresh user in (a TOTP code works once per user, S7: each login gets its own user). */
async function login(p = pkce()): Promise<{ code: string; verifier: string }> {
  users += 1;
  const username = `user${users}`;
  const totp = randomBytes(20);
  const keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
  await addUser(g.store, username, 'correct horse battery', { totpSecret: totp, keyring });
  const fresh = new Browser(await g.ca(), g.base);
  try {
    const { code } = await browserLogin(fresh, g.issuer, { username, password: 'correct horse battery', totp: () => totpNow(totp), pkceChallenge: p.challenge });
    return { code, verifier: p.verifier };
  } finally {
    await fresh.close();
  }
}

async function exchange(code: string, verifier: string | undefined, redirect = REDIRECT) {
  return tokenRequest(b, g.issuer, { grant_type: 'authorization_code', code, redirect_uri: redirect, client_id: WEB_CLIENT, ...(verifier !== undefined ? { code_verifier: verifier } : {}) });
}

test('authorization code reuse: the second redemption fails (invalid_grant) and revokes the grant (RFC 6749 §4.1.2)', async () => {
  const { code, verifier } = await login();
  const first = await exchange(code, verifier);
  assert.equal(first.status, 200);
  const second = await exchange(code, verifier);
  assert.equal(second.status, 400);
  assert.equal(second.json.error, 'invalid_grant');
  const gid = decodeJwt(first.json.access_token).grant_id as string;
  const entry = await g.store.denyList.find('grant', gid);
  assert.ok(entry, 'the grant is on the deny-list: its access tokens stop working at the gateway');
  const refresh = await tokenRequest(b, g.issuer, { grant_type: 'refresh_token', refresh_token: first.json.refresh_token, client_id: WEB_CLIENT });
  assert.equal(refresh.status, 400);
  assert.equal(refresh.json.error, 'invalid_grant');
});

test('PKCE: missing code_challenge → invalid_request at the authorization endpoint', async () => {
  const r = await b.fetch(authorizeUrl(g.issuer, { challenge: undefined }));
  assert.equal(r.status, 303);
  const to = new URL(r.location ?? '');
  assert.equal(to.origin + to.pathname, REDIRECT);
  assert.equal(to.searchParams.get('error'), 'invalid_request');
  assert.match(to.searchParams.get('error_description') ?? '', /PKCE/);
});

test('PKCE: code_challenge_method=plain is refused (S256 only)', async () => {
  const r = await b.fetch(authorizeUrl(g.issuer, { challenge: 'a'.repeat(43), method: 'plain' }));
  assert.equal(r.status, 303);
  const to = new URL(r.location ?? '');
  assert.equal(to.searchParams.get('error'), 'invalid_request');
  assert.match(to.searchParams.get('error_description') ?? '', /code_challenge_method/);
});

test('PKCE: a wrong or missing code_verifier at the token endpoint → invalid_grant', async () => {
  const { code } = await login();
  const wrong = await exchange(code, pkce().verifier);
  assert.equal(wrong.status, 400);
  assert.equal(wrong.json.error, 'invalid_grant');
  const { code: code2 } = await login();
  const missing = await exchange(code2, undefined);
  assert.equal(missing.status, 400);
  assert.equal(missing.json.error, 'invalid_grant');
});

test('redirect_uri variants are refused with an error page and never redirected to', async () => {
  const variants = [
    'https://evil.example/callback',
    'https://app.test.example/callback/extra',
    'https://app.test.example/callbackx',
    'https://app.test.example/callback/../other',
    'https://app.test.example/other/../callback',
    'http://app.test.example/callback',
    'https://app.test.example@evil.example/callback',
    'https://evil.example@app.test.example/callback',
    'https://app.test.example:8443/callback',
    'https://APP.test.example/callback',
    'https://app.test.example/callback?x=1',
    'https://app.test.example/callback#frag',
  ];
  for (const redirectUri of variants) {
    const r = await b.fetch(authorizeUrl(g.issuer, { redirectUri, challenge: pkce().challenge, method: 'S256' }));
    assert.equal(r.status, 400, redirectUri);
    assert.equal(r.location, undefined, `${redirectUri}: no redirect`);
    assert.match(r.text, /invalid_redirect_uri|redirect_uri/, redirectUri);
    assert.match(String(r.headers['content-type']), /text\/html/);
  }
});

test('redirect_uri at the token endpoint must equal the one of the authorization request', async () => {
  const { code, verifier } = await login();
  const r = await exchange(code, verifier, 'http://127.0.0.1/callback');
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
});

test('refresh tokens rotate on every use; reusing an old one revokes the whole grant (deny-listed)', async () => {
  const { code, verifier } = await login();
  const t0 = await exchange(code, verifier);
  assert.equal(t0.status, 200);
  const rt1 = t0.json.refresh_token as string;
  const t1 = await tokenRequest(b, g.issuer, { grant_type: 'refresh_token', refresh_token: rt1, client_id: WEB_CLIENT });
  assert.equal(t1.status, 200);
  const rt2 = t1.json.refresh_token as string;
  assert.notEqual(rt2, rt1, 'rotated');
  const at1 = decodeJwt(t1.json.access_token);
  assert.equal(at1.aud, API);
  assert.deepEqual(at1.amr, ['pwd', 'otp'], 'authentication facts survive a refresh');
  const reuse = await tokenRequest(b, g.issuer, { grant_type: 'refresh_token', refresh_token: rt1, client_id: WEB_CLIENT });
  assert.equal(reuse.status, 400);
  assert.equal(reuse.json.error, 'invalid_grant');
  const after = await tokenRequest(b, g.issuer, { grant_type: 'refresh_token', refresh_token: rt2, client_id: WEB_CLIENT });
  assert.equal(after.status, 400, 'the newest refresh token of the grant is dead too');
  assert.equal(after.json.error, 'invalid_grant');
  const entry = await g.store.denyList.find('grant', at1.grant_id as string);
  assert.ok(entry && entry.notBefore > (at1.iat ?? 0), 'access tokens of the grant issued before now are withdrawn');
});

test('refresh tokens are opaque and stored only as SHA-256 (S4)', async () => {
  const { code, verifier } = await login();
  const t = await exchange(code, verifier);
  assert.equal(t.json.refresh_token.split('.').length, 1);
  const { createHash } = await import('node:crypto');
  const found = await g.store.oidc.find('RefreshToken', createHash('sha256').update(t.json.refresh_token).digest('hex'));
  assert.ok(found);
  assert.equal(JSON.stringify(found).includes(t.json.refresh_token), false);
});

test('client credentials: a JWT for the API, sub = client_id, no grant or user claims', async () => {
  const r = await tokenRequest(b, g.issuer, { grant_type: 'client_credentials', scope: 'orders:read', resource: API }, basic('svc', SVC_SECRET));
  assert.equal(r.status, 200, JSON.stringify(r.json));
  const at = decodeJwt(r.json.access_token);
  assert.equal(at.sub, 'svc');
  assert.equal(at.client_id, 'svc');
  assert.equal(at.aud, API);
  assert.equal(at.scope, 'orders:read');
  assert.equal(at.auth_time, undefined);
  assert.equal(at.grant_id, undefined);
  assert.equal(r.json.refresh_token, undefined);
});

test('client credentials: a client added by `rampart clients add` (hashed secret) authenticates with client_secret_post too', async () => {
  const r = await tokenRequest(b, g.issuer, { grant_type: 'client_credentials', scope: 'orders:read', resource: API, client_id: 'svc-cli', client_secret: SVC_SECRET });
  assert.equal(r.status, 200, JSON.stringify(r.json));
  assert.equal(decodeJwt(r.json.access_token).sub, 'svc-cli');
  const wrong = await tokenRequest(b, g.issuer, { grant_type: 'client_credentials', resource: API, client_id: 'svc-cli', client_secret: `${SVC_SECRET}x` });
  assert.equal(wrong.status, 401);
});

test('client credentials: a wrong secret, an unknown or a public client → 401 invalid_client', async () => {
  const wrong = await tokenRequest(b, g.issuer, { grant_type: 'client_credentials', resource: API }, basic('svc', 'not-the-secret'));
  assert.equal(wrong.status, 401);
  assert.equal(wrong.json.error, 'invalid_client');
  const unknown = await tokenRequest(b, g.issuer, { grant_type: 'client_credentials', resource: API }, basic('nobody', 'x'));
  assert.equal(unknown.status, 401);
  assert.equal(unknown.json.error, 'invalid_client');
  const pub = await tokenRequest(b, g.issuer, { grant_type: 'client_credentials', client_id: WEB_CLIENT, resource: API });
  assert.equal(pub.status, 400);
  assert.equal(pub.json.error, 'invalid_request');
  assert.match(pub.json.error_description, /grant type is not allowed/);
});

test('no password grant and no implicit flow', async () => {
  const pw = await tokenRequest(b, g.issuer, { grant_type: 'password', username: 'alice', password: 'correct horse battery', client_id: WEB_CLIENT });
  assert.equal(pw.status, 400);
  assert.equal(pw.json.error, 'unsupported_grant_type');
  const implicit = await b.fetch(authorizeUrl(g.issuer, { extra: { response_type: 'token' } }).replace('response_type=code&', ''));
  assert.equal(implicit.status, 303);
  assert.match(implicit.location ?? '', /[#&]error=unsupported_response_type/);
  assert.doesNotMatch(implicit.location ?? '', /access_token=/);
});

test('revocation (RFC 7009) of a refresh token deny-lists the grant; introspection (RFC 7662) then says inactive', async () => {
  const { code, verifier } = await login();
  const t = await exchange(code, verifier);
  const gid = decodeJwt(t.json.access_token).grant_id as string;
  const before = await b.fetch(`${g.issuer}/token/introspection`, { form: { token: t.json.refresh_token }, headers: { ...basic('svc', SVC_SECRET), origin: '' } });
  assert.equal(before.status, 200);
  assert.equal(JSON.parse(before.text).active, false, 'a client sees only its own tokens');
  const own = await b.fetch(`${g.issuer}/token/introspection`, { form: { token: t.json.refresh_token, client_id: WEB_CLIENT }, headers: { origin: '' } });
  assert.equal(own.status, 200);
  assert.equal(JSON.parse(own.text).active, false, 'public clients learn nothing from introspection');
  const rev = await b.fetch(`${g.issuer}/token/revocation`, { form: { token: t.json.refresh_token, client_id: WEB_CLIENT }, headers: { origin: '' } });
  assert.equal(rev.status, 200);
  assert.ok(await g.store.denyList.find('grant', gid));
  const refresh = await tokenRequest(b, g.issuer, { grant_type: 'refresh_token', refresh_token: t.json.refresh_token, client_id: WEB_CLIENT });
  assert.equal(refresh.json.error, 'invalid_grant');
});

test('introspection of a JWT access token is refused (unsupported_token_type): JWTs are checked by signature and the deny-list', async () => {
  const t = await tokenRequest(b, g.issuer, { grant_type: 'client_credentials', scope: 'orders:read', resource: API }, basic('svc', SVC_SECRET));
  const r = await b.fetch(`${g.issuer}/token/introspection`, { form: { token: t.json.access_token }, headers: { ...basic('svc', SVC_SECRET), origin: '' } });
  // JWT access tokens are not stored: introspection covers refresh and opaque tokens (docs/auth-server.md).
  assert.equal(r.status, 400);
  assert.equal(JSON.parse(r.text).error, 'unsupported_token_type');
  const unauth = await b.fetch(`${g.issuer}/token/introspection`, { form: { token: t.json.access_token }, headers: { origin: '' } });
  assert.equal(unauth.status, 400, 'introspection needs client authentication');
  assert.equal(JSON.parse(unauth.text).error, 'invalid_request');
});

test('bad input at the token endpoint: JSON, garbage, duplicated parameters and huge values get OAuth errors, never a stack trace', async () => {
  const json = await b.fetch(`${g.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/json', origin: '' } });
  assert.equal(json.status, 400);
  assert.equal(JSON.parse(json.text).error, 'invalid_request');
  const garbage = await b.fetch(`${g.issuer}/token`, { form: { grant_type: 'authorization_code', code: '\u0000<script>'.repeat(50), client_id: WEB_CLIENT, redirect_uri: REDIRECT, code_verifier: 'x'.repeat(43) }, headers: { origin: '' } });
  assert.equal(garbage.status, 400);
  assert.equal(JSON.parse(garbage.text).error, 'invalid_grant');
  const dup = await b.fetch(`${g.issuer}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', origin: '' } });
  assert.equal(dup.status, 400);
  for (const r of [json, garbage, dup]) assert.doesNotMatch(r.text, /at .*\.(js|ts):\d+|node_modules/);
  const twice = await b.fetch(`${g.issuer}/authorize?client_id=web&client_id=web&response_type=code`);
  assert.equal(twice.status, 400);
  assert.doesNotMatch(twice.text, /at .*\.(js|ts):\d+/);
});

test('a disabled user can no longer refresh (findAccount refuses them): the grant ends at the next refresh', async () => {
  const { code, verifier } = await login();
  const t = await exchange(code, verifier);
  assert.equal(t.status, 200);
  const sub = decodeJwt(t.json.access_token).sub as string;
  await g.store.users.update(sub, { disabled: true });
  const r = await tokenRequest(b, g.issuer, { grant_type: 'refresh_token', refresh_token: t.json.refresh_token, client_id: WEB_CLIENT });
  assert.equal(r.status, 400);
  assert.equal(r.json.error, 'invalid_grant');
});
