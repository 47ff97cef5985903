/**
 * The gateway trusting its own authorization server, end to end over HTTPS: tokens from the real
 * built-in server (oidc-provider, client credentials and authorization code + PKCE with password
 * and TOTP) are accepted on protected routes; refresh-token reuse revokes the grant and every
 * access token of it stops working at the gateway (issue 3 §5, S9).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { API, Browser, REDIRECT, WEB_CLIENT, addUser, browserLogin, pkce, startAuthGateway, tokenRequest, totpNow, type AuthGateway } from '../helpers/auth.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { createKeyring } from '../../src/secrets/keyring.ts';
import { loadMasterKey } from '../../src/secrets/master-key.ts';
import { hashClientSecret } from '../../src/auth-server/provider.ts';

let g: AuthGateway;
let b: Browser;
let echo: EchoServer;
const SVC_SECRET = randomBytes(32).toString('base64url');
const basic = (id: string, s: string) => ({ authorization: `Basic ${Buffer.from(`${id}:${s}`).toString('base64')}` });

before(async () => {
  echo = await startEcho();
  g = await startAuthGateway({
    extra: `
authentication:
  denyList: { pollSeconds: 1 }
upstreams:
  - { id: echo, targets: [{ url: ${echo.url} }], retries: { attempts: 0 } }
routes:
  - { id: api, path: /api/echo, upstream: echo, stripPrefix: /api }
  - { id: health, path: /api/health, upstream: echo, stripPrefix: /api, authn: { required: false } }
`,
  });
  await g.store.clients.create({
    clientId: 'svc', secretHash: hashClientSecret(SVC_SECRET), roles: ['batch'], disabled: false, createdAt: 1,
    metadata: { grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read orders:write' },
  });
  b = new Browser(await g.ca(), g.base);
});
after(async () => {
  await b?.close();
  await g?.close();
  await echo?.close();
});

const identity = (text: string) => JSON.parse(Buffer.from(String(JSON.parse(text).headers['rampart-identity']).split('.')[1] as string, 'base64url').toString());

test('routes are protected by default once the authorization server runs', async () => {
  const res = await b.fetch('/api/echo');
  assert.equal(res.status, 401);
  assert.equal(res.headers['www-authenticate'], 'Bearer realm="rampart"');
  assert.equal((await b.fetch('/api/health')).status, 200, 'a route that opts out stays public');
});

test('a client-credentials token of the built-in server is accepted: client principal, the record\'s roles', async () => {
  const t = await tokenRequest(b, g.issuer, { grant_type: 'client_credentials', scope: 'orders:read', resource: API }, basic('svc', SVC_SECRET));
  assert.equal(t.status, 200, JSON.stringify(t.json));
  const res = await b.fetch('/api/echo', { headers: { authorization: `Bearer ${t.json.access_token}` } });
  assert.equal(res.status, 200, res.text);
  const id = identity(res.text);
  assert.equal(id.sub, 'svc');
  assert.equal(id.rampart.kind, 'client');
  assert.equal(id.rampart.issuer, g.issuer);
  assert.deepEqual(id.rampart.roles, ['batch']);
  assert.deepEqual(id.rampart.scopes, ['orders:read']);
});

test('a user\'s token after password + TOTP: amr, acr, authTime reach the upstream; refresh reuse revokes it at the gateway', async () => {
  const secret = randomBytes(20);
  const keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
  await addUser(g.store, 'carol', 'correct horse battery', { totpSecret: secret, keyring });
  const p = pkce();
  const login = new Browser(await g.ca(), g.base);
  const { code } = await browserLogin(login, g.issuer, { username: 'carol', password: 'correct horse battery', totp: () => totpNow(secret), pkceChallenge: p.challenge });
  await login.close();
  const t0 = await tokenRequest(b, g.issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: WEB_CLIENT, code_verifier: p.verifier });
  assert.equal(t0.status, 200, JSON.stringify(t0.json));
  const at0 = t0.json.access_token as string;
  const res = await b.fetch('/api/echo', { headers: { authorization: `Bearer ${at0}` } });
  assert.equal(res.status, 200, res.text);
  const id = identity(res.text);
  assert.equal(id.sub, 'carol');
  assert.equal(id.rampart.kind, 'user');
  assert.deepEqual(id.rampart.amr, ['pwd', 'otp']);
  assert.equal(typeof id.rampart.acr, 'string');
  assert.equal(typeof id.rampart.authTime, 'number');

  // Refresh once (rotation), then reuse the old refresh token: the whole grant is revoked.
  const t1 = await tokenRequest(b, g.issuer, { grant_type: 'refresh_token', refresh_token: t0.json.refresh_token, client_id: WEB_CLIENT });
  assert.equal(t1.status, 200);
  const at1 = t1.json.access_token as string;
  assert.equal((await b.fetch('/api/echo', { headers: { authorization: `Bearer ${at1}` } })).status, 200);
  const reuse = await tokenRequest(b, g.issuer, { grant_type: 'refresh_token', refresh_token: t0.json.refresh_token, client_id: WEB_CLIENT });
  assert.equal(reuse.json.error, 'invalid_grant');
  assert.ok(await g.store.denyList.find('grant', decodeJwt(at1).grant_id as string));
  for (const token of [at0, at1]) {
    let r;
    for (let i = 0; i < 100; i++) {
      r = await b.fetch('/api/echo', { headers: { authorization: `Bearer ${token}` } });
      if (r.status !== 200) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(r!.status, 401);
    assert.equal(JSON.parse(r!.text).code, 'RAMPART_AUTHN_TOKEN_REVOKED');
    assert.match(String(r!.headers['www-authenticate']), /error="invalid_token"/);
  }
});

test('an ID token of the built-in server is not an access token (typ JWT, aud = client)', async () => {
  const secret = randomBytes(20);
  const keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
  await addUser(g.store, 'dave', 'correct horse battery', { totpSecret: secret, keyring });
  const p = pkce();
  const login = new Browser(await g.ca(), g.base);
  const { code } = await browserLogin(login, g.issuer, { username: 'dave', password: 'correct horse battery', totp: () => totpNow(secret), pkceChallenge: p.challenge });
  await login.close();
  const t = await tokenRequest(b, g.issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: WEB_CLIENT, code_verifier: p.verifier });
  assert.ok(t.json.id_token);
  const res = await b.fetch('/api/echo', { headers: { authorization: `Bearer ${t.json.id_token}` } });
  assert.equal(res.status, 401);
  assert.equal(JSON.parse(res.text).code, 'RAMPART_AUTHN_TOKEN_INVALID');
});
