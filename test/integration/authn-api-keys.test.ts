/**
 * API keys end to end (issue 3 §7): a key created against the gateway's store (as `rampart keys
 * create` does) works on the running gateway without a restart, reaches the upstream as a `key`
 * principal, is never forwarded, and stops working once revoked (deny-list, S9).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestGateway, type TestGateway, withAuthenticatedPolicy } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { loadMasterKey } from '../../src/secrets/master-key.ts';
import { createKeyring } from '../../src/secrets/keyring.ts';
import { createApiKeyService, type ApiKeyService } from '../../src/accounts/api-keys.ts';

let echo: EchoServer;
let t: TestGateway;
let keys: ApiKeyService;

before(async () => {
  echo = await startEcho();
  t = await startTestGateway(withAuthenticatedPolicy(`
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - { id: echo, targets: [{ url: ${echo.url} }], retries: { attempts: 0 } }
authentication:
  apiKeys: { enabled: true, cacheSeconds: 60 }
  denyList: { pollSeconds: 1 }
routes:
  - { id: api, path: /api/echo, upstream: echo, stripPrefix: /api }
`));
  // The same master key the gateway uses (dev mode: <dataDir>/master.key), as the CLI would load it.
  const keyring = createKeyring(await loadMasterKey({ dataDir: path.join(t.dir, '.rampart'), dev: true }));
  keys = createApiKeyService({ store: t.gw.store, keyring });
});
after(async () => {
  await keys?.close();
  await t?.close();
  await echo?.close();
});

test('a key created while the gateway runs is accepted at once, as a key principal, and not forwarded', async () => {
  const { key, record } = await keys.create({ name: 'reporting job', roles: ['reporting'], scopes: ['orders:read'] });
  assert.match(key, /^rmp_/);
  const res = await t.fetch('/api/echo', { headers: { 'x-api-key': key } });
  assert.equal(res.status, 200, res.text);
  const seen = res.json();
  assert.equal(seen.headers['x-api-key'], undefined, 'never forwarded upstream');
  const id = JSON.parse(Buffer.from(String(seen.headers['rampart-identity']).split('.')[1] as string, 'base64url').toString());
  assert.equal(id.sub, record.id);
  assert.equal(id.rampart.kind, 'key');
  assert.deepEqual(id.rampart.roles, ['reporting']);
  assert.deepEqual(id.rampart.scopes, ['orders:read']);
  assert.ok(!t.rawLogs().includes(key), 'the key never reaches the log');
});

test('a wrong secret with a real id is refused (401, constant-time MAC check in src/accounts)', async () => {
  const { key } = await keys.create({ name: 'other', roles: [] });
  const tampered = key.slice(0, -6) + (key.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA');
  const res = await t.fetch('/api/echo', { headers: { 'x-api-key': tampered } });
  assert.equal(res.status, 401);
  assert.equal(res.json().code, 'RAMPART_AUTHN_API_KEY_INVALID');
});

test('a revoked key stops working even though it is cached (deny-list key entry)', async () => {
  const { key, record } = await keys.create({ name: 'to revoke', roles: [] });
  assert.equal((await t.fetch('/api/echo', { headers: { 'x-api-key': key } })).status, 200);
  assert.equal((await t.fetch('/api/echo', { headers: { 'x-api-key': key } })).status, 200, 'now cached for 60 s');
  assert.equal(await keys.revoke(record.id, 'leaked'), true);
  let res;
  for (let i = 0; i < 100; i++) {
    res = await t.fetch('/api/echo', { headers: { 'x-api-key': key } });
    if (res.status !== 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(res!.status, 401);
  assert.equal(res!.json().code, 'RAMPART_AUTHN_API_KEY_INVALID');
});
