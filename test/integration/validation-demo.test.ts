/**
 * The demo's own users service behind the gateway, with its own OpenAPI document
 * (examples/demo/openapi/users.yaml): a real user signed in through the built-in authorization
 * server (password + TOTP), the service verifying the gateway's Rampart-Identity. The service
 * leaks `passwordHash` and `internalNotes` on purpose; the response contract removes them, and
 * injection and mass assignment never reach it (issue 6).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { REDIRECT, WEB_CLIENT, Browser, addUser, browserLogin, freePort, pkce, startAuthGateway, tokenRequest, totpNow, type AuthGateway } from '../helpers/auth.ts';
import { createKeyring } from '../../src/secrets/keyring.ts';
import { loadMasterKey } from '../../src/secrets/master-key.ts';
import { createIdentityVerifier } from '../../src/identity/verify.ts';
import { start as startUsers } from '../../examples/demo/services/users.ts';
import type { RunningService } from '../../examples/demo/services/http.ts';
import { principals } from '../../examples/demo/services/testing.ts';

const usersDoc = fileURLToPath(new URL('../../examples/demo/openapi/users.yaml', import.meta.url));
let g: AuthGateway;
let users: RunningService;
let verifier: ReturnType<typeof createIdentityVerifier>;
let port: number;
let token: string;
const secret = randomBytes(20);

before(async () => {
  port = await freePort();
  g = await startAuthGateway({
    extra: `
upstreams:
  - id: users
    targets: [{ url: http://127.0.0.1:${port} }]
    retries: { attempts: 0 }
    openapi: { document: ${JSON.stringify(usersDoc)}, basePath: /api }
defaults:
  proxy: { passUpstreamErrors: [4xx] }
routes:
  - { id: users-by-id, path: "/api/users/{id}", methods: [GET, PATCH], upstream: users, stripPrefix: /api }
`,
  });
  verifier = createIdentityVerifier({ jwks: g.gw.identity.jwks(), issuer: 'urn:rampart:gateway', audience: 'users' });
  users = await startUsers({ port, host: '127.0.0.1', verifier });
  const keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
  await addUser(g.store, 'alice', 'correct horse battery', { totpSecret: secret, keyring });
  const b = new Browser(await g.ca(), g.base);
  const p = pkce();
  const { code } = await browserLogin(b, g.issuer, { username: 'alice', password: 'correct horse battery', totp: () => totpNow(secret), pkceChallenge: p.challenge });
  const t = await tokenRequest(b, g.issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: WEB_CLIENT, code_verifier: p.verifier });
  assert.equal(t.status, 200, JSON.stringify(t.json));
  token = t.json.access_token as string;
});
after(async () => {
  await users?.close();
  verifier?.close();
  await g?.close();
});

const auth = () => ({ authorization: `Bearer ${token}` });

test('the users service itself leaks passwordHash and internalNotes (what the gateway must stop)', async () => {
  const identity = await g.gw.identity.tokenFor(principals.alice, 'users', g.gw.generation);
  const r = await request(`http://127.0.0.1:${port}/users/alice`, { headers: { 'rampart-identity': identity } });
  const body = (await r.body.json()) as Record<string, unknown>;
  assert.equal(r.statusCode, 200);
  assert.ok('passwordHash' in body && 'internalNotes' in body);
});

test('through the gateway, the response contract removes the undeclared fields', async () => {
  const r = await g.fetch('/api/users/alice', { headers: auth() });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(Object.keys(r.json()).sort(), ['createdAt', 'email', 'id', 'name', 'roles']);
  assert.ok(!r.text.includes('passwordHash') && !r.text.includes('VIP since'));
  const line = g.logs.find((l) => l.log === 'access' && l.route === 'users-by-id' && l.status === 200);
  assert.equal(line?.operation, 'getUser');
  assert.equal(line?.responseFiltered, 2);
});

test('an injection and a mass assignment never reach the service; a clean change does, and comes back filtered', async () => {
  const sqli = await g.fetch('/api/users/alice', { method: 'PATCH', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ name: "x' OR '1'='1" }) });
  assert.equal(sqli.status, 400);
  assert.deepEqual(sqli.json().errors, [{ in: 'body', pointer: '/name', rule: 'sqli' }]);
  const mass = await g.fetch('/api/users/alice', { method: 'PATCH', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Alice', roles: ['admin'] }) });
  assert.equal(mass.status, 422);
  assert.deepEqual(mass.json().errors, [{ in: 'body', pointer: '/roles', rule: 'unknownProperty' }]);
  const ok = await g.fetch('/api/users/alice', { method: 'PATCH', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ name: "Alice O'Brien" }) });
  assert.equal(ok.status, 200, ok.text);
  assert.equal(ok.json().name, "Alice O'Brien");
  assert.equal(ok.json().passwordHash, undefined);
  assert.deepEqual((await g.fetch('/api/users/Alice!', { headers: auth() })).json().errors, [{ in: 'path', parameter: 'id', pointer: '', rule: 'pattern' }]);
});
