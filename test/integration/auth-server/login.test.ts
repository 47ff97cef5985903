/**
 * The full login over real HTTPS with a cookie jar: password, TOTP, consent, code, token; then the
 * properties of the RFC 9068 access token the authn stage relies on.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { API, Browser, REDIRECT, WEB_CLIENT, addUser, browserLogin, pkce, startAuthGateway, tokenRequest, totpNow, type AuthGateway } from '../../helpers/auth.ts';
import { createKeyring } from '../../../src/secrets/keyring.ts';
import { loadMasterKey } from '../../../src/secrets/master-key.ts';

let g: AuthGateway;
const secret = randomBytes(20);
before(async () => {
  g = await startAuthGateway();
  const keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
  await addUser(g.store, 'alice', 'correct horse battery', { totpSecret: secret, keyring });
});
after(() => g.close());

test('authorization code + PKCE: password, TOTP, consent, then an RFC 9068 access token with amr [pwd, otp]', async () => {
  const b = new Browser(await g.ca(), g.base);
  const p = pkce();
  const { code, redirect } = await browserLogin(b, g.issuer, { username: 'alice', password: 'correct horse battery', totp: () => totpNow(secret), pkceChallenge: p.challenge });
  assert.equal(redirect.origin + redirect.pathname, REDIRECT);
  assert.equal(redirect.searchParams.get('state'), 'st-123');
  assert.equal(redirect.searchParams.get('iss'), g.issuer, 'RFC 9207 iss in the authorization response');
  const t = await tokenRequest(b, g.issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: WEB_CLIENT, code_verifier: p.verifier });
  assert.equal(t.status, 200, JSON.stringify(t.json));
  assert.equal(t.json.token_type, 'Bearer');
  assert.ok(t.json.refresh_token);
  assert.ok(t.json.id_token);
  const at = t.json.access_token as string;
  assert.equal(decodeProtectedHeader(at).typ, 'at+jwt');
  assert.equal(decodeProtectedHeader(at).alg, 'ES256');
  const jwks = createLocalJWKSet((await g.fetch('/auth/jwks')).json());
  const { payload } = await jwtVerify(at, jwks, { issuer: g.issuer, audience: API, typ: 'at+jwt', algorithms: ['ES256'] });
  assert.equal(payload.sub, 'alice');
  assert.equal(payload.client_id, WEB_CLIENT);
  assert.equal((payload.exp ?? 0) - (payload.iat ?? 0), 300, 'five minutes by default');
  assert.ok(payload.jti);
  assert.ok(typeof payload.grant_id === 'string' && payload.grant_id.length > 0, 'the grant id, for the deny-list');
  assert.deepEqual(payload.amr, ['pwd', 'otp']);
  assert.equal(payload.acr, 'urn:rampart:acr:mfa');
  assert.equal(typeof payload.auth_time, 'number');
  assert.equal(payload.scope, 'orders:read');
  await b.close();
});

test('the login cookies are scoped to /auth, Secure and HttpOnly: never sent to an upstream path (S1)', async () => {
  const b = new Browser(await g.ca(), g.base);
  const p = pkce();
  await browserLogin(b, g.issuer, { username: 'alice', password: 'correct horse battery', totp: () => totpNow(secret, 1), pkceChallenge: p.challenge });
  assert.ok(b.cookies().size > 0);
  for (const c of b.cookies().values()) assert.ok(c.path.startsWith('/auth'), `${c.name} path ${c.path}`);
  assert.equal(b.cookieHeader('/api/orders'), '');
  const raw = await b.fetch(`${g.issuer}/authorize?client_id=web`);
  void raw;
  await b.close();
});
