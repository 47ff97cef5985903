/**
 * `rampart users|clients|keys` as an administrator runs them (the real binary, a real SQLite
 * store in a temp data directory): what is printed once, what is stored, exit codes 0/1/2.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createSqliteStore } from '../../src/store/sqlite/index.ts';
import { createKeyring } from '../../src/secrets/keyring.ts';
import { parseMasterKey } from '../../src/secrets/master-key.ts';
import { createApiKeyService } from '../../src/accounts/api-keys.ts';
import { createArgon2Hasher } from '../../src/accounts/password-hash.ts';
import { runAccountCommand } from '../../src/cli/accounts/index.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(root, 'bin', 'rampart.js');
const dir = mkdtempSync(path.join(os.tmpdir(), 'rampart-cli-accounts-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const dataDir = path.join(dir, 'data');
const config = path.join(dir, 'rampart.yaml');
writeFileSync(config, `dataDir: ${dataDir}
listeners:
  - { name: public, port: 8443, protocol: https, tls: { dev: true } }
routes: []
`);

/** In-process (the modules load once); `spawn` runs the real binary for what only it can show. */
async function rampart(args: string[], input?: string) {
  let out = '';
  let err = '';
  const code = await runAccountCommand(['--config', config, ...args], { out: (t) => void (out += t), err: (t) => void (err += t), stdin: async () => input ?? '' });
  return { code, out, err };
}

function spawn(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000, input: input ?? '', env: { ...process.env, RAMPART_CONFIG: config } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

async function withStore<T>(fn: (s: ReturnType<typeof createSqliteStore>) => Promise<T>): Promise<T> {
  const s = createSqliteStore({ file: path.join(dataDir, 'rampart.db') });
  try {
    return await fn(s);
  } finally {
    await s.close();
  }
}

test('users add: prints a one-time password once; the store holds an Argon2id hash and must-change', async () => {
  const r = await rampart(['users', 'add', 'Alice', '--roles', 'reader,orders:write', '--display-name', 'Alice A.']);
  assert.equal(r.code, 0, r.err);
  const otp = /one-time password: (\S+)/.exec(r.out)?.[1] ?? '';
  assert.match(otp, /^[a-z2-7]{4}(-[a-z2-7]{4}){3}$/);
  assert.match(r.err, /shown once/);
  const user = await withStore((s) => s.users.get('alice'));
  assert.deepEqual(user?.roles, ['reader', 'orders:write']);
  assert.equal(user?.mustChangePassword, true);
  assert.match(user?.passwordHash ?? '', /^\$argon2id\$/);
  assert.equal(await createArgon2Hasher().verify(user?.passwordHash ?? '', otp), true);
  assert.equal((await rampart(['users', 'add', 'alice'])).code, 1, 'a second alice is refused');
});

test('users add --password-stdin: the policy applies (breached, too short); a good one is accepted', async () => {
  const bad = await rampart(['users', 'add', 'bob', '--password-stdin'], 'password1\n');
  assert.equal(bad.code, 1);
  assert.match(bad.err, /breached/);
  assert.equal((await rampart(['users', 'add', 'bob', '--password-stdin'], 'short\n')).code, 1);
  const good = await rampart(['users', 'add', 'bob', '--password-stdin'], 'a long and unusual passphrase\n');
  assert.equal(good.code, 0, good.err);
  assert.doesNotMatch(good.out, /one-time password/);
});

test('users list, disable, enable, reset-mfa, reset-password; the audit trail records each change', async () => {
  await rampart(['users', 'add', 'carol']);
  assert.equal((await rampart(['users', 'disable', 'user:carol', '--reason', 'left'])).code, 0);
  const list = await rampart(['users', 'list']);
  assert.equal(list.code, 0);
  assert.match(list.out, /^USERNAME\s+ID\s+ROLES\s+MFA\s+STATUS\s+CREATED$/m);
  assert.match(list.out, /^carol\s+carol\s+-\s+not enrolled\s+disabled\s/m);
  const json = JSON.parse((await rampart(['users', 'list', '--json'])).out) as Array<Record<string, unknown>>;
  const carol = json.find((u) => u.username === 'carol');
  assert.equal(carol?.disabled, true);
  assert.ok(!JSON.stringify(json).includes('argon2'), 'no password hash in the output');
  const deny = await withStore((s) => s.denyList.find('subject', 'urn:rampart:builtin|user|carol'));
  assert.equal(deny?.reason, 'left');
  assert.equal((await rampart(['users', 'enable', 'carol'])).code, 0);
  assert.equal((await rampart(['users', 'reset-mfa', 'carol'])).code, 0);
  const reset = await rampart(['users', 'reset-password', 'carol']);
  assert.match(reset.out, /one-time password: [a-z2-7-]{19}/);
  // Both resets sign the user out everywhere: tokens issued until now are cut off (S9).
  const cut = await withStore((s) => s.denyList.find('subject', 'urn:rampart:builtin|user|carol'));
  assert.equal(cut?.reason, 'password reset by an administrator');
  assert.equal((await rampart(['users', 'disable', 'nobody'])).code, 1);
  const actions = await withStore(async (s) => (await s.audit.list()).filter((a) => a.target === 'user:carol').map((a) => a.action));
  assert.deepEqual(actions, ['users.add', 'users.disable', 'users.enable', 'users.reset-mfa', 'users.reset-password']);
});

test('clients add: a confidential client prints its secret once (stored hashed and sealed); public clients have none', async () => {
  const r = await rampart(['clients', 'add', 'web', '--redirect-uri', 'https://app.example/cb', '--redirect-uri', 'http://127.0.0.1:8765/cb', '--scope', 'openid orders']);
  assert.equal(r.code, 0, r.err);
  const secret = /client secret: (\S+)/.exec(r.out)?.[1] ?? '';
  assert.ok(Buffer.from(secret, 'base64url').length === 32);
  const c = await withStore((s) => s.clients.get('web'));
  assert.deepEqual(c?.metadata.grant_types, ['authorization_code', 'refresh_token']);
  assert.deepEqual(c?.metadata.redirect_uris, ['https://app.example/cb', 'http://127.0.0.1:8765/cb']);
  assert.equal(c?.metadata.token_endpoint_auth_method, 'client_secret_basic');
  assert.ok(c?.secretHash && !c.secretHash.includes(secret) && c.secretSealed && !c.secretSealed.includes(secret));
  const master = parseMasterKey(readFileSync(path.join(dataDir, 'master.key'), 'utf8'), 'test');
  assert.equal(createKeyring(master).open('client-secrets', c.secretSealed, 'web').toString(), secret, 'the provider can open it');
  const cli = await rampart(['clients', 'add', 'cli', '--public', '--grant-types', 'device_code']);
  assert.equal(cli.code, 0, cli.err);
  assert.doesNotMatch(cli.out, /secret/);
  const list = await rampart(['clients', 'list']);
  assert.match(list.out, /^cli\s+public\s+device_code\s+-/m);
  assert.match(list.out, /^web\s+confidential\s+authorization_code,refresh_token\s+https:\/\/app.example\/cb http:\/\/127.0.0.1:8765\/cb/m);
});

test('clients add: unsafe redirect URIs, implicit/password grants and public client_credentials are usage errors (exit 2)', async () => {
  for (const uri of ['http://app.example/cb', 'https://app.example/cb#x', 'https://user@app.example/cb', 'javascript:alert(1)', 'not a uri']) {
    const r = await rampart(['clients', 'add', 'bad', '--redirect-uri', uri]);
    assert.equal(r.code, 2, uri);
  }
  assert.equal((await rampart(['clients', 'add', 'bad', '--grant-types', 'implicit', '--redirect-uri', 'https://a.example/cb'])).code, 2);
  assert.equal((await rampart(['clients', 'add', 'bad', '--grant-types', 'password'])).code, 2);
  assert.equal((await rampart(['clients', 'add', 'bad', '--public', '--grant-types', 'client_credentials'])).code, 2);
  assert.equal((await rampart(['clients', 'add', 'Bad Id'])).code, 2);
});

test('clients remove: gone, and its tokens withdrawn through the deny-list', async () => {
  await rampart(['clients', 'add', 'svc']);
  assert.equal((await rampart(['clients', 'remove', 'client:svc'])).code, 0);
  assert.equal((await rampart(['clients', 'remove', 'svc'])).code, 1);
  assert.equal(await withStore(async (s) => (await s.denyList.find('client', 'svc'))?.reason), 'client removed');
});

test('keys create: prints the key once (rmp_ format), verifiable with the pepper of the same master key; list and revoke', async () => {
  const r = await rampart(['keys', 'create', '--name', 'billing sync', '--roles', 'billing', '--scopes', 'orders:read', '--expires', '30d']);
  assert.equal(r.code, 0, r.err);
  const key = r.out.trim();
  assert.match(key, /^rmp_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}$/);
  assert.match(r.err, /shown once/);
  const master = parseMasterKey(readFileSync(path.join(dataDir, 'master.key'), 'utf8'), 'test');
  const id = key.slice(4, 16);
  await withStore(async (s) => {
    const svc = createApiKeyService({ store: s, keyring: createKeyring(master) });
    const v = await svc.verify(key, Date.now() / 1000);
    await svc.close();
    assert.equal(v.ok, true, 'a gateway with this data directory accepts it without restart');
    const rec = await s.apiKeys.get(id);
    assert.ok(rec?.expiresAt && Math.abs(rec.expiresAt - (Date.now() / 1000 + 30 * 86_400)) < 120);
  });
  const list = await rampart(['keys', 'list']);
  assert.match(list.out, new RegExp(`^${id}\\s+billing sync\\s+billing\\s+orders:read\\s+active\\s`, 'm'));
  assert.ok(!list.out.includes(key.slice(17)), 'the secret is never listed');
  assert.equal((await rampart(['keys', 'revoke', `key:${id}`])).code, 0);
  assert.equal((await rampart(['keys', 'revoke', id])).code, 1, 'already revoked');
  assert.match((await rampart(['keys', 'list'])).out, new RegExp(`^${id}\\s.*\\srevoked\\s`, 'm'));
  await withStore(async (s) => assert.equal((await s.denyList.find('key', id))?.kind, 'key'));
});

test('keys create: default expiry 90 days; --expires never is explicit; bad options are usage errors', async () => {
  const r = await rampart(['keys', 'create', '--name', 'k1', '--roles', 'a']);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /expires 20\d\d-/);
  assert.match((await rampart(['keys', 'create', '--name', 'k2', '--roles', 'a', '--expires', 'never'])).err, /never expires/);
  for (const args of [['--roles', 'a'], ['--name', 'x'], ['--name', 'x', '--roles', 'a', '--expires', 'tomorrow'], ['--name', 'x', '--roles', 'a', '--expires', '2001-01-01'], ['--name', 'x', '--roles', 'bad role']]) {
    assert.equal((await rampart(['keys', 'create', ...args])).code, 2, args.join(' '));
  }
});

test('the real binary: rampart users add reads --password-stdin, exit codes 0/1/2 reach the shell, main lists the commands', () => {
  const good = spawn(['users', 'add', 'dave', '--password-stdin'], 'yet another long passphrase\n');
  assert.equal(good.code, 0, good.err);
  assert.equal(spawn(['users', 'add', 'dave', '--password-stdin'], 'yet another long passphrase\n').code, 1);
  assert.equal(spawn(['--config', config, 'keys', 'create']).code, 2);
  assert.match(spawn(['--help']).out, /users \.\.\./);
});

test('usage: unknown subcommands and options exit 2 with usage; --help exits 0', async () => {
  assert.equal((await rampart(['users'])).code, 2);
  assert.equal((await rampart(['users', 'frobnicate'])).code, 2);
  assert.equal((await rampart(['users', 'list', '--roles', 'x'])).code, 2);
  assert.equal((await rampart(['keys', 'list', '--bogus'])).code, 2);
  const help = await rampart(['keys', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.out, /rampart keys create --name NAME --roles/);
});

test('a config that does not load is reported with file and line (exit 1)', async () => {
  const bad = path.join(dir, 'bad.yaml');
  writeFileSync(bad, 'listeners: []\nroutes: []\nbogus: 1\n');
  const r = await rampart(['--config', bad, 'users', 'list']);
  assert.equal(r.code, 1);
  assert.match(r.err, /bad\.yaml:\d+:\d+: /);
});

test('with a policy, --roles must name roles it defines (an unknown one would grant nothing, silently)', async () => {
  const withPolicy = path.join(dir, 'policy.yaml');
  writeFileSync(withPolicy, `dataDir: ${dataDir}
listeners:
  - { name: public, port: 8443, protocol: https, tls: { dev: true } }
upstreams: [{ id: up, targets: [{ url: "http://127.0.0.1:9" }] }]
routes: [{ id: r, path: /r, methods: [GET], upstream: up }]
authorization:
  permissions: { r:read: {} }
  roles: { reader: { permissions: [r:read] } }
  rules: [{ id: r, route: r, permissions: [r:read] }]
`);
  let err = '';
  const io = { out: () => {}, err: (t: string) => void (err += t), stdin: async () => '' };
  assert.equal(await runAccountCommand(['--config', withPolicy, 'users', 'add', 'dora', '--roles', 'reader,ghost'], io), 2);
  assert.match(err, /unknown role "ghost": the policy defines reader/);
  assert.equal(await runAccountCommand(['--config', withPolicy, 'keys', 'create', '--name', 'k', '--roles', 'ghost'], io), 2);
  assert.equal(await runAccountCommand(['--config', withPolicy, 'users', 'add', 'dora', '--roles', 'reader'], io), 0);
});
