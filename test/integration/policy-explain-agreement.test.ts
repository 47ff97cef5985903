/**
 * `rampart policy explain` says what the gateway does: the same requests asked of the CLI's
 * answer (in-process, from the same config file and the same store) and sent through the real
 * gateway over HTTPS to a real upstream, with real API keys — allowed or not, status and code
 * must agree for every one (routing, authn refusals, permissions, scopes, networks, request and
 * response ownership).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { loadMasterKey } from '../../src/secrets/master-key.ts';
import { createKeyring } from '../../src/secrets/keyring.ts';
import { createApiKeyService, type ApiKeyService } from '../../src/accounts/api-keys.ts';
import { loadConfig } from '../../src/config/load.ts';
import { STAGES } from '../../src/stages/index.ts';
import { answer, policyContext, type PolicyContext } from '../../src/cli/policy/decision.ts';

let echo: EchoServer;
let t: TestGateway;
let keys: ApiKeyService;
let ctx: PolicyContext;
const made: Record<string, { key: string; id: string }> = {};

before(async () => {
  echo = await startEcho();
  t = await startTestGateway(`
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - { id: echo, targets: [{ url: ${echo.url} }], retries: { attempts: 0 } }
authentication:
  apiKeys: { enabled: true, cacheSeconds: 0 }
authorization:
  permissions:
    r:read: {}
    r:write: {}
    ops: {}
  roles:
    reader: { permissions: [r:read] }
    writer: { inherits: [reader], permissions: [r:write] }
    operator: { permissions: [ops] }
  rules:
    - { id: open, route: open, public: true }
    - { id: read, route: r, methods: [GET], permissions: [r:read] }
    - { id: write, route: r, methods: [POST], permissions: [r:write] }
    - { id: things-own, route: things, permissions: [r:read], ownership: { principal: { issuer: api-keys }, request: [{ path: owner }] } }
    - { id: mine, route: mine, permissions: [r:read], ownership: { principal: { issuer: api-keys }, response: { field: headers.x-owner } } }
    - { id: ops-lan, route: ops, permissions: [ops], networks: [10.0.0.0/8] }
routes:
  - { id: open, path: /open, methods: [GET], upstream: echo }
  - { id: r, path: /r, methods: [GET, POST], upstream: echo }
  - { id: things, path: "/things/{owner}", methods: [GET], upstream: echo }
  - { id: mine, path: /mine, methods: [GET], upstream: echo }
  - { id: ops, path: /ops, methods: [GET], upstream: echo }
`);
  const keyring = createKeyring(await loadMasterKey({ dataDir: path.join(t.dir, '.rampart'), dev: true }));
  keys = createApiKeyService({ store: t.gw.store, keyring });
  for (const [name, roles, scopes] of [['reader', ['reader'], []], ['narrow', ['writer'], ['r:read']], ['writer', ['writer'], []], ['none', [], []], ['ops', ['operator'], []], ['revoked', ['writer'], []]] as const) {
    const { key, record } = await keys.create({ name, roles: [...roles], scopes: [...scopes] });
    made[name] = { key, id: record.id };
  }
  await keys.revoke(made.revoked!.id, 'test');
  // The CLI reads the gateway's own config file and store.
  process.env.RAMPART_DATA_DIR = path.join(t.dir, '.rampart');
  ctx = policyContext(await loadConfig(t.configFile, STAGES));
});
after(async () => {
  await ctx?.store.close();
  await keys?.close();
  await t?.close();
  await echo?.close();
});

interface Case {
  readonly who: string | undefined;
  readonly method: 'GET' | 'POST' | 'DELETE';
  readonly path: string;
  /** Sent to the echo service, which answers it back in `headers` (the response owner). */
  readonly owner?: string;
}

test('explain agrees with the gateway on every request of a bounded set', async () => {
  const id = (n: string) => made[n]!.id;
  const cases: Case[] = [
    { who: undefined, method: 'GET', path: '/open' },
    { who: undefined, method: 'GET', path: '/r' },
    { who: 'reader', method: 'GET', path: '/open' },
    { who: 'reader', method: 'GET', path: '/r' },
    { who: 'reader', method: 'POST', path: '/r' },
    { who: 'writer', method: 'POST', path: '/r' },
    { who: 'narrow', method: 'GET', path: '/r' },
    { who: 'narrow', method: 'POST', path: '/r' },
    { who: 'none', method: 'GET', path: '/r' },
    { who: 'revoked', method: 'GET', path: '/r' },
    { who: 'reader', method: 'DELETE', path: '/r' },
    { who: 'reader', method: 'GET', path: '/R' },
    { who: 'reader', method: 'GET', path: '/r/' },
    { who: 'reader', method: 'GET', path: '//r' },
    { who: 'reader', method: 'GET', path: '/things%2Fx' },
    { who: 'reader', method: 'GET', path: `/things/${id('reader')}` },
    { who: 'reader', method: 'GET', path: `/things/${id('writer')}` },
    { who: 'writer', method: 'GET', path: `/things/../things/${id('writer')}` },
    { who: 'reader', method: 'GET', path: '/mine', owner: id('reader') },
    { who: 'reader', method: 'GET', path: '/mine', owner: id('writer') },
    { who: 'ops', method: 'GET', path: '/ops' },
  ];
  let allowed = 0;
  for (const c of cases) {
    const res = await t.fetch(c.path, { method: c.method, headers: { ...(c.who ? { 'x-api-key': made[c.who]!.key } : {}), ...(c.owner ? { 'x-owner': c.owner } : {}) } });
    const o = await answer(ctx, {
      as: c.who ? { kind: 'key', id: id(c.who) } : { kind: 'anonymous' },
      method: c.method, path: c.path,
      ...(c.owner ? { response: { value: { headers: { 'x-owner': c.owner } } } } : {}),
    });
    const label = `${c.who ?? 'anonymous'} ${c.method} ${c.path}: gateway ${res.status} ${res.text.slice(0, 160)}`;
    const d = o.decision;
    assert.equal(d.allowed, res.status < 400, label);
    if (d.allowed) {
      allowed++;
      assert.equal(res.status, 200, label);
    } else {
      assert.equal(d.error?.status, res.status, label);
      assert.equal(d.error?.code, res.json().code, label);
    }
  }
  assert.ok(allowed >= 5 && allowed < cases.length, `both outcomes are exercised (${allowed} allowed)`);
});
