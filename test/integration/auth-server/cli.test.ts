/**
 * `rampart keys rotate-signing` against a running gateway's store, and `rampart login` (device
 * flow) approved in a browser.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { API, Browser, addUser, hiddenInput, startAuthGateway, tokenRequest, totpNow, type AuthGateway } from '../../helpers/auth.ts';
import { createKeyring } from '../../../src/secrets/keyring.ts';
import { loadMasterKey } from '../../../src/secrets/master-key.ts';
import { hashClientSecret } from '../../../src/auth-server/provider.ts';
import { deviceLogin } from '../../../src/auth-server/device-login.ts';
import { main } from '../../../src/cli/main.ts';

let g: AuthGateway;
const secret = randomBytes(20);
const SVC = randomBytes(32).toString('base64url');
const basic = { authorization: `Basic ${Buffer.from(`svc:${SVC}`).toString('base64')}`, origin: '' };
before(async () => {
  g = await startAuthGateway({ authServer: '  keyPollSeconds: 1' });
  const keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
  await addUser(g.store, 'cleo', 'correct horse battery', { totpSecret: secret, keyring });
  await g.store.clients.create({ clientId: 'svc', secretHash: hashClientSecret(SVC), roles: [], disabled: false, createdAt: 1, metadata: { grant_types: ['client_credentials'], redirect_uris: [], response_types: [], token_endpoint_auth_method: 'client_secret_basic', scope: 'orders:read' } });
});
after(() => g.close());

async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gave up waiting: ${what}`);
}

test('rampart keys rotate-signing: the new key is published first, signs after activation; old tokens keep verifying', async () => {
  const b = new Browser(await g.ca(), g.base);
  const cc = () => tokenRequest(b, g.issuer, { grant_type: 'client_credentials', scope: 'orders:read', resource: API }, basic);
  const before = (await cc()).json.access_token as string;
  const oldKid = decodeProtectedHeader(before).kid;
  const out: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const prevDir = process.env.RAMPART_DATA_DIR;
  process.env.RAMPART_DATA_DIR = g.gw.dataDir;
  (process.stdout as { write: unknown }).write = (chunk: string) => (out.push(String(chunk)), true);
  let code: number;
  try {
    code = await main(['keys', 'rotate-signing', '--config', g.configFile]);
  } finally {
    (process.stdout as { write: unknown }).write = write;
    if (prevDir === undefined) delete process.env.RAMPART_DATA_DIR;
    else process.env.RAMPART_DATA_DIR = prevDir;
  }
  assert.equal(code, 0);
  const newKid = out.join('').trim();
  assert.ok(newKid && newKid !== oldKid);
  await until('the new key in the JWKS', async () => (await g.fetch('/auth/jwks')).json().keys.some((k: { kid: string }) => k.kid === newKid));
  assert.equal(decodeProtectedHeader((await cc()).json.access_token).kid, oldKid, 'published before it signs');
  await until('tokens signed by the new key', async () => decodeProtectedHeader((await cc()).json.access_token).kid === newKid);
  const jwks = createLocalJWKSet((await g.fetch('/auth/jwks')).json());
  await jwtVerify(before, jwks, { issuer: g.issuer, audience: API, typ: 'at+jwt' });
  await b.close();
});

test('rampart login (device flow): prints where to go, the user approves in a browser, the CLI gets the token', async () => {
  const told: string[] = [];
  let approve: Promise<void> | undefined;
  const result = await deviceLogin({
    issuer: g.issuer,
    clientId: 'cli',
    scope: 'openid offline_access orders:read',
    ca: await g.ca(),
    sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 200))),
    tell: (text) => {
      told.push(text);
      const uri = /open (https:\S+)\n/.exec(text)?.[1];
      if (uri) approve = approveInBrowser(uri);
    },
  });
  await approve;
  assert.match(told.join(''), /check that it shows the code [A-Z]{4}-[A-Z]{4}/);
  const at = decodeJwt(result.access_token);
  assert.equal(at.sub, 'cleo');
  assert.equal(at.client_id, 'cli');
  assert.ok(result.refresh_token);
});

async function approveInBrowser(uri: string): Promise<void> {
  const b = new Browser(await g.ca(), g.base);
  const formPost = await b.fetch(uri);
  // verification_uri_complete answers with a self-submitting form (rampart.js posts it in a browser).
  assert.match(formPost.text, /data-autosubmit/);
  const post = Object.fromEntries([...formPost.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)].map((m) => [m[1] as string, m[2] as string]));
  const confirm = await b.fetch(/action="([^"]+)"/.exec(formPost.text)?.[1] ?? '', { form: post });
  assert.match(confirm.text, /Confirm the device/);
  const action = /<form id="op\.deviceConfirmForm"[^>]*action="([^"]+)"/.exec(confirm.text)?.[1] ?? '';
  const fields = Object.fromEntries([...confirm.text.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)].map((m) => [m[1] as string, m[2] as string]));
  let r = await b.follow(new URL(action, g.base).href, { form: fields });
  r = await b.follow(new URL(/action="([^"]+\/login)"/.exec(r.text)?.[1] ?? '', g.base).href, { form: { csrf: hiddenInput(r.text, 'csrf'), username: 'cleo', password: 'correct horse battery' } });
  r = await b.follow(new URL(/action="([^"]+\/totp)"/.exec(r.text)?.[1] ?? '', g.base).href, { form: { csrf: hiddenInput(r.text, 'csrf'), code: totpNow(secret) } });
  if (r.text.includes('Allow access')) r = await b.follow(new URL(/action="([^"]+\/confirm)"/.exec(r.text)?.[1] ?? '', g.base).href, { form: { csrf: hiddenInput(r.text, 'csrf') } });
  assert.match(r.text, /Device connected/);
  await b.close();
}
