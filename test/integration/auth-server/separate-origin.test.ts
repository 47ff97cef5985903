/**
 * S1 outside development mode: the authorization server answers on its own host only; the API
 * host never serves /auth, the login host never reaches an upstream; a config that shares the
 * origin is refused.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { Gateway } from '../../../src/core/gateway.ts';
import { captureLogger } from '../../helpers/gateway.ts';
import { startEcho } from '../../helpers/upstream.ts';
import { makeCa, makeLeaf } from '../../../src/tls/testing.ts';
import { freePort } from '../../helpers/auth.ts';

const API_HOST = 'api.test.example';
const LOGIN_HOST = 'login.test.example';
let dir: string;
let gw: Gateway;
let port: number;
let ca: string;
let echo: Awaited<ReturnType<typeof startEcho>>;
let agents: Agent[] = [];

function config(issuerHost: string): string {
  return `
masterKey: { file: master.key }
listeners:
  - name: public
    host: 127.0.0.1
    port: ${port}
    protocol: https
    publicOrigin: https://${API_HOST}:${port}
    tls:
      certificates: [{ cert: leaf.crt, key: leaf.key }]
authServer:
  issuer: https://${issuerHost}:${port}
  resources: [{ indicator: https://${API_HOST}/api, scopes: [read] }]
upstreams:
  - id: echo
    targets: [{ url: ${echo.url} }]
routes:
  - id: api
    host: ${API_HOST}
    path: /api/*
    upstream: echo
    authn: { required: false }
authorization:
  rules: [{ id: anyone, route: api, public: true }]
`;
}

before(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'rampart-s1-'));
  port = await freePort();
  echo = await startEcho();
  const caPair = makeCa('S1 test CA');
  const leaf = makeLeaf(caPair, [API_HOST, LOGIN_HOST]);
  ca = caPair.certPem;
  await writeFile(path.join(dir, 'leaf.crt'), leaf.certPem);
  await writeFile(path.join(dir, 'leaf.key'), leaf.keyPem);
  await writeFile(path.join(dir, 'master.key'), randomBytes(32).toString('base64'), { mode: 0o600 });
  await writeFile(path.join(dir, 'rampart.yaml'), config(LOGIN_HOST));
  gw = await Gateway.start({ configFile: path.join(dir, 'rampart.yaml'), logger: captureLogger().logger, watch: false, dataDir: path.join(dir, 'data') });
});
after(async () => {
  await gw?.close(500);
  await Promise.all(agents.map((a) => a.close()));
  await echo?.close();
  await rm(dir, { recursive: true, force: true });
});

async function get(host: string, p: string) {
  const agent = new Agent({ connect: { ca, servername: host } });
  agents.push(agent);
  const res = await request(`https://127.0.0.1:${port}${p}`, { headers: { host: `${host}:${port}` }, dispatcher: agent });
  return { status: res.statusCode, text: await res.body.text(), headers: res.headers };
}

test('S1: the login host serves the authorization server at its root, with its own issuer', async () => {
  const r = await get(LOGIN_HOST, '/.well-known/openid-configuration');
  assert.equal(r.status, 200);
  assert.equal(JSON.parse(r.text).issuer, `https://${LOGIN_HOST}:${port}`);
  assert.match(String(r.headers['content-security-policy']), /frame-ancestors 'none'/);
});

test('S1: the API host never serves the login pages, and the login host never reaches an upstream', async () => {
  const api = await get(API_HOST, '/.well-known/openid-configuration');
  assert.equal(api.status, 404);
  const upstream = await get(API_HOST, '/api/hello');
  assert.equal(upstream.status, 200, 'the route works on its own host');
  const viaLogin = await get(LOGIN_HOST, '/api/hello');
  assert.equal(viaLogin.status, 404);
  assert.doesNotMatch(viaLogin.text, /echo/i);
});

test('S1: outside development mode a config whose login origin is shared with routes is refused', async () => {
  const { parseConfig } = await import('../../../src/config/load.ts');
  const { STAGES } = await import('../../../src/stages/index.ts');
  assert.throws(() => parseConfig(config(API_HOST), 'rampart.yaml', dir, STAGES), /origin of its own/);
});
