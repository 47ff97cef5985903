/**
 * Authentication fails closed (DESIGN "Fail closed", S8, S9): an issuer whose keys cannot be had,
 * a deny-list or account store that cannot be read — requests with credentials get 503, never a
 * pass. And the secure default: routes require authentication once a credential source exists.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway, withAuthenticatedPolicy } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { startTestIdp, type TestIdp } from '../../src/stages/authn/test-idp.ts';
import { makeKey, signToken, accessToken, now, TestBuiltinIssuer, accountsDouble, type TestKey } from '../../src/stages/authn/testing.ts';

let echo: EchoServer;
let idp: TestIdp;
let key: TestKey;
const open: TestGateway[] = [];

before(async () => {
  echo = await startEcho();
  key = makeKey('ES256', 'k1');
  idp = await startTestIdp({ keys: [key] });
});
after(async () => {
  for (const g of open) await g.close();
  await Promise.all([echo?.close(), idp?.close()]);
});

async function gateway(authentication: string, routes = '  - { id: api, path: /api/echo, upstream: echo, stripPrefix: /api }', options: Parameters<typeof startTestGateway>[1] = {}): Promise<TestGateway> {
  const g = await startTestGateway(withAuthenticatedPolicy(`
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - { id: echo, targets: [{ url: ${echo.url} }], retries: { attempts: 0 } }
${authentication}
routes:
${routes}
`), { files: { 'idp-ca.pem': idp.caPem }, ...options });
  open.push(g);
  return g;
}

const issuer = (extra: string) => `
authentication:
  issuers:
    - id: corp
      issuer: "${idp.issuer}"
      audiences: [api]
      algorithms: [ES256]
      requireTyp: JWT
      ca: idp-ca.pem
${extra}`;

function corpToken(iss = idp.issuer): string {
  const at = now();
  return signToken({ alg: 'ES256', typ: 'JWT', kid: key.kid }, { iss, aud: 'api', sub: 'u1', iat: at, exp: at + 300 }, key);
}

function lastEvent(g: TestGateway): Record<string, unknown> | undefined {
  return g.logs.findLast((l) => l.log === 'security')?.event as Record<string, unknown> | undefined;
}

test('S8: loopback issuer without allowPrivateNetwork → 503, and no request reaches it', async () => {
  const before = idp.requests.length;
  const g = await gateway(issuer(''));
  const res = await g.fetch('/api/echo', { headers: { authorization: `Bearer ${corpToken()}` } });
  assert.equal(res.status, 503);
  assert.equal(res.json().code, 'RAMPART_AUTHN_UNAVAILABLE');
  assert.ok(res.headers['retry-after']);
  assert.match(String(lastEvent(g)?.['event.reason']), /private or special-purpose address/);
  assert.equal(idp.requests.length, before);
});

test('S8: a discovery document naming another issuer → 503 (keys never taken)', async () => {
  idp.discoveredIssuer = 'https://evil.example/realms/test';
  try {
    const g = await gateway(issuer('      allowPrivateNetwork: true'));
    const res = await g.fetch('/api/echo', { headers: { authorization: `Bearer ${corpToken()}` } });
    assert.equal(res.status, 503);
    assert.equal(lastEvent(g)?.['event.reason'], 'keys: discovered issuer differs from the configured one');
    assert.ok(!idp.requests.includes('/realms/test/jwks'), 'the JWKS was not fetched');
  } finally {
    idp.discoveredIssuer = undefined;
  }
});

test('an issuer that cannot be reached → 503, never a pass', async () => {
  idp.mode = 'down';
  try {
    const g = await gateway(issuer('      allowPrivateNetwork: true'));
    const res = await g.fetch('/api/echo', { headers: { authorization: `Bearer ${corpToken()}` } });
    assert.equal(res.status, 503);
    assert.equal(res.json().code, 'RAMPART_AUTHN_UNAVAILABLE');
  } finally {
    idp.mode = 'ok';
  }
});

test('S9: a deny-list that cannot be read → 503 for credentials; the account store down → 503', async () => {
  const accounts = accountsDouble();
  accounts.addUser('alice');
  const builtinKey = makeKey('ES256', 'b1');
  const builtin = new TestBuiltinIssuer('https://localhost:8443/auth', ['https://api.test'], [builtinKey]);
  const g = await gateway(`
authentication:
  denyList: { pollSeconds: 1, maxStalenessSeconds: 5 }
  accountCacheSeconds: 0
`, undefined, { authn: { builtin, accounts } });
  const token = accessToken(builtinKey, { iss: builtin.issuer, aud: 'https://api.test', sub: 'alice', client_id: 'web', auth_time: now() });
  assert.equal((await g.fetch('/api/echo', { headers: { authorization: `Bearer ${token}` } })).status, 200);
  accounts.failing = true;
  let res;
  for (let i = 0; i < 200; i++) {
    res = await g.fetch('/api/echo', { headers: { authorization: `Bearer ${token}` } });
    if (res.status !== 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(res!.status, 503);
  assert.equal(res!.json().code, 'RAMPART_AUTHN_UNAVAILABLE');
  // Requests without credentials are not affected: they get the ordinary 401.
  assert.equal((await g.fetch('/api/echo')).status, 401);
  accounts.failing = false;
  for (let i = 0; i < 200; i++) {
    res = await g.fetch('/api/echo', { headers: { authorization: `Bearer ${token}` } });
    if (res.status === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(res!.status, 200, 'recovers once the store answers');
});

test('secure default: with a credential source, a route without authn settings requires authentication', async () => {
  const g = await gateway(issuer('      allowPrivateNetwork: true'), '  - { id: api, path: /api/echo, upstream: echo, stripPrefix: /api }\n  - { id: open, path: /api/open, upstream: echo, stripPrefix: /api, authn: { required: false } }');
  assert.equal((await g.fetch('/api/echo')).status, 401);
  assert.equal((await g.fetch('/api/open')).status, 200);
  assert.ok(g.logs.some((l) => l.route === 'open' && String(l.msg).includes('anonymous callers reach this route')), 'the relaxation is warned about');
  assert.equal((await g.fetch('/api/echo', { headers: { authorization: `Bearer ${corpToken()}` } })).status, 200);
});

test('without any credential source, routes stay public and credentials are not examined (warned)', async () => {
  const g = await gateway('');
  const res = await g.fetch('/api/echo', { headers: { authorization: 'Bearer not-even-a-jwt' } });
  assert.equal(res.status, 200);
  assert.equal(res.json().headers.authorization, undefined);
  assert.ok(g.logs.some((l) => String(l.msg).includes('no credential source is configured')));
});

test('config: required: true without a credential source, and unknown issuer ids, are errors with their path', async () => {
  await assert.rejects(gateway('', '  - { id: api, path: /api/echo, upstream: echo, authn: { required: true } }'), (err: Error) => {
    assert.match(err.message, /routes\[0\]\.authn\.required: no credential source is configured/);
    return true;
  });
  await assert.rejects(gateway(issuer(''), '  - { id: api, path: /api/echo, upstream: echo, authn: { issuers: [corp, nope] } }'), (err: Error) => {
    assert.match(err.message, /routes\[0\]\.authn\.issuers\[1\]: unknown issuer "nope"/);
    return true;
  });
});

test('shadow mode: a bad token is logged as "would deny" and the request goes on as anonymous', async () => {
  // The route is public for authorization, so that what the client sees is authn's shadow alone.
  const g = await gateway(`${issuer('      allowPrivateNetwork: true')}\nauthorization:\n  rules: [{ id: anyone, route: api, public: true }]`, '  - { id: api, path: /api/echo, upstream: echo, stripPrefix: /api, authn: { mode: shadow } }');
  const res = await g.fetch('/api/echo', { headers: { authorization: 'Bearer a.b.c' } });
  assert.equal(res.status, 200);
  assert.ok(g.logs.some((l) => l.msg === 'shadow mode: would deny' && l.code === 'RAMPART_AUTHN_TOKEN_INVALID'));
  assert.equal((await g.fetch('/api/echo')).status, 200);
});

test('hot reload keeps the token cache and key sets while `authentication` is unchanged, and drops them when it changes', async () => {
  const yaml = (skew: number, extraRoute = '') => `
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - { id: echo, targets: [{ url: ${echo.url} }], retries: { attempts: 0 } }
${issuer(`      allowPrivateNetwork: true\n      clockSkewSeconds: ${skew}`)}
routes:
  - { id: api, path: /api/echo, upstream: echo, stripPrefix: /api }
${extraRoute}`;
  const g = await startTestGateway(withAuthenticatedPolicy(yaml(30)), { files: { 'idp-ca.pem': idp.caPem } });
  open.push(g);
  const token = corpToken();
  const lines = () => g.logs.filter((l) => l.route === 'api' && l.status === 200);
  const call = async () => {
    const before = lines().length;
    const res = await g.fetch('/api/echo', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    // The access line is written when the response closes: wait for it (bounded).
    for (let i = 0; i < 100 && lines().length === before; i++) await new Promise((r) => setTimeout(r, 20));
    return (lines().at(-1)?.authn as { cached: boolean }).cached;
  };
  assert.equal(await call(), false);
  assert.equal(await call(), true);
  const fetches = idp.requests.length;
  await g.rewrite(withAuthenticatedPolicy(yaml(30, '  - { id: other, path: /api/other, upstream: echo, authn: { required: false } }')));
  assert.equal((await g.gw.reload()).ok, true);
  assert.equal(await call(), true, 'an unrelated change keeps the cache');
  assert.equal(idp.requests.length, fetches, 'and the key set: no refetch');
  await g.rewrite(withAuthenticatedPolicy(yaml(10)));
  assert.equal((await g.gw.reload()).ok, true);
  assert.equal(await call(), false, 'changed verification settings start from an empty cache');
});
