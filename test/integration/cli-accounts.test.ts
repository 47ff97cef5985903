/**
 * The account commands against a running gateway (issue 3 §3, §7): what `rampart keys create`
 * prints works on the gateway at once, `rampart keys revoke` and `rampart users disable` take
 * effect without a restart — the CLI and the gateway share the store and the master key.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startTestGateway, type TestGateway, withAuthenticatedPolicy } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { runAccountCommand } from '../../src/cli/accounts/index.ts';

let echo: EchoServer;
let t: TestGateway;
const savedDataDir = process.env.RAMPART_DATA_DIR;

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
`, ['reporting', 'reader']));
  // The test gateway keeps its data under <dir>/.rampart; the CLI finds it the documented way.
  process.env.RAMPART_DATA_DIR = path.join(t.dir, '.rampart');
});
after(async () => {
  if (savedDataDir === undefined) delete process.env.RAMPART_DATA_DIR;
  else process.env.RAMPART_DATA_DIR = savedDataDir;
  await t?.close();
  await echo?.close();
});

async function rampart(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runAccountCommand(['--config', t.configFile, ...args], { out: (s) => void (out += s), err: (s) => void (err += s), stdin: async () => '' });
  return { code, out, err };
}

async function until(fn: () => Promise<number>, status: number): Promise<number> {
  let last = 0;
  for (let i = 0; i < 100; i++) {
    last = await fn();
    if (last === status) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

test('rampart keys create prints a key the running gateway accepts at once; rampart keys revoke stops it without a restart', async () => {
  const created = await rampart('keys', 'create', '--name', 'reporting', '--roles', 'reporting', '--expires', '1d');
  assert.equal(created.code, 0, created.err);
  const key = created.out.trim();
  const call = async () => (await t.fetch('/api/echo', { headers: { 'x-api-key': key } })).status;
  assert.equal(await call(), 200);
  assert.equal(await call(), 200, 'and again, from the gateway cache');
  const listed = await rampart('keys', 'list', '--json');
  const id = key.slice(4, 16);
  assert.equal((JSON.parse(listed.out) as Array<{ id: string; status: string }>).find((k) => k.id === id)?.status, 'active');
  assert.equal((await rampart('keys', 'revoke', id)).code, 0);
  assert.equal(await until(call, 401), 401, 'refused once the deny-list poll ran, cache or not');
});

test('rampart users add and users disable act on the running gateway\'s store', async () => {
  const added = await rampart('users', 'add', 'erin', '--roles', 'reader');
  assert.equal(added.code, 0, added.err);
  assert.equal((await t.gw.store.users.get('erin'))?.roles[0], 'reader');
  assert.equal((await rampart('users', 'disable', 'erin')).code, 0);
  assert.equal((await t.gw.store.users.get('erin'))?.disabled, true);
});
