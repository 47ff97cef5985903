import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startAuthGateway, type AuthGateway } from '../../helpers/auth.ts';

let g: AuthGateway;
before(async () => {
  g = await startAuthGateway();
});
after(() => g.close());

test('discovery: served under the issuer path with the issuer exactly, secure capabilities only', async () => {
  const r = await g.fetch('/auth/.well-known/openid-configuration');
  assert.equal(r.status, 200);
  const d = r.json();
  assert.equal(d.issuer, g.issuer);
  assert.equal(d.jwks_uri, `${g.issuer}/jwks`);
  assert.equal(d.token_endpoint, `${g.issuer}/token`);
  assert.equal(d.authorization_endpoint, `${g.issuer}/authorize`);
  assert.equal(d.device_authorization_endpoint, `${g.issuer}/device/auth`);
  assert.equal(d.revocation_endpoint, `${g.issuer}/token/revocation`);
  assert.equal(d.introspection_endpoint, `${g.issuer}/token/introspection`);
  assert.equal(d.end_session_endpoint, `${g.issuer}/session/end`);
  assert.deepEqual(d.response_types_supported, ['code'], 'no implicit or hybrid response types');
  assert.deepEqual(d.code_challenge_methods_supported, ['S256'], 'PKCE S256 only');
  assert.ok(!d.grant_types_supported.includes('password'), 'no password grant');
  assert.ok(!d.grant_types_supported.includes('implicit'), 'no implicit grant');
  for (const g2 of ['authorization_code', 'refresh_token', 'client_credentials', 'urn:ietf:params:oauth:grant-type:device_code']) assert.ok(d.grant_types_supported.includes(g2), g2);
  assert.deepEqual(d.id_token_signing_alg_values_supported, ['ES256']);
  assert.ok(!d.token_endpoint_auth_methods_supported.includes('client_secret_jwt'), 'no symmetric client authentication');
});

test('discovery: a forged Host does not change the URLs the provider builds', async () => {
  const r = await g.fetch('/auth/.well-known/openid-configuration', { headers: { host: `localhost:${g.port()}` } });
  assert.equal(r.json().issuer, g.issuer);
});

test('JWKS: one ES256 public key, no private part; the same as the BuiltinIssuer port gives the authn stage', async () => {
  const r = await g.fetch('/auth/jwks');
  assert.equal(r.status, 200);
  const jwks = r.json();
  assert.equal(jwks.keys.length, 1);
  const [k] = jwks.keys;
  assert.equal(k.kty, 'EC');
  assert.equal(k.crv, 'P-256');
  assert.equal(k.alg, 'ES256');
  assert.equal(k.d, undefined);
  assert.deepEqual(g.gw.authServer?.jwks().keys.map((x) => x.kid), [k.kid]);
});

test('every auth response carries the strict CSP, frame-ancestors none, HSTS and the request id', async () => {
  for (const path of ['/auth/.well-known/openid-configuration', '/auth/jwks', '/auth/nope', '/auth/assets/rampart.css']) {
    const r = await g.fetch(path);
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'; script-src 'self'; style-src 'self'/, path);
    assert.match(String(r.headers['content-security-policy']), /frame-ancestors 'none'/, path);
    assert.equal(r.headers['x-frame-options'], 'DENY', path);
    assert.match(String(r.headers['strict-transport-security']), /max-age=\d+/, path);
    assert.ok(r.headers['x-request-id'], path);
  }
});

test('the access log names the path without the query string (S1)', async () => {
  await g.fetch('/auth/authorize?client_id=web&state=secret-state-value&code_challenge=abc');
  await new Promise((r) => setTimeout(r, 50));
  assert.ok(g.logs.some((l) => l.path === '/auth/authorize'));
  assert.equal(g.rawLogs().includes('secret-state-value'), false);
});

test('the JWKS keeps its key across a restart on the same store (generated once, sealed in the store)', async () => {
  const kid = g.gw.authServer?.jwks().keys[0]?.kid;
  assert.equal(await g.gw.authServer?.refreshKeys(), false);
  assert.equal(g.gw.authServer?.jwks().keys[0]?.kid, kid);
});

test('a reload that changes authServer is refused (restart needed); the running server keeps serving', async () => {
  const { readFile, writeFile } = await import('node:fs/promises');
  const before = await readFile(g.configFile, 'utf8');
  await writeFile(g.configFile, before.replace('authServer:\n', 'authServer:\n  accessTokenTtlSeconds: 600\n'));
  const r = await g.gw.reload();
  assert.equal(r.ok, false);
  assert.match(r.problems.map((p) => p.message).join(' '), /restart the gateway to change the authorization server/);
  await writeFile(g.configFile, before);
  assert.equal((await g.fetch('/auth/jwks')).status, 200);
});
