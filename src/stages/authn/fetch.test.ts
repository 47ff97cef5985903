import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SafeFetcher, FetchError, isSpecialAddress } from './fetch.ts';
import { startTestIdp, type TestIdp } from './test-idp.ts';
import { makeKey } from './testing.ts';

let idp: TestIdp;
before(async () => {
  idp = await startTestIdp({ keys: [makeKey('ES256', 'a')] });
});
after(() => idp.close());

const policy = (o: Partial<ConstructorParameters<typeof SafeFetcher>[0]> = {}) => new SafeFetcher({ timeoutMs: 5000, maxBytes: 256 * 1024, allowPrivateNetwork: true, ca: idp.caPem, ...o });

async function reason(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof FetchError, String(err));
    return err.reason;
  }
  return 'no error';
}

test('SafeFetcher fetches JSON over HTTPS with the issuer CA', async () => {
  idp.mode = 'ok';
  const f = policy();
  const jwks = (await f.json(`${idp.issuer}/jwks`)) as { keys: unknown[] };
  assert.equal(jwks.keys.length, 1);
  await f.close();
});

test('SafeFetcher refuses loopback and private addresses unless allowed, without connecting (S8)', async () => {
  const f = policy({ allowPrivateNetwork: false });
  const before = idp.requests.length;
  assert.equal(await reason(f.json(`${idp.issuer}/jwks`)), 'private or special-purpose address (S8)', 'localhost resolves to loopback');
  assert.equal(await reason(f.json(idp.issuer.replace('localhost', '127.0.0.1') + '/jwks')), 'private or special-purpose address (S8)');
  assert.equal(await reason(f.json('https://[::1]:1/jwks')), 'private or special-purpose address (S8)');
  assert.equal(await reason(f.json('https://169.254.169.254/latest/meta-data')), 'private or special-purpose address (S8)');
  assert.equal(idp.requests.length, before, 'no request reached the server');
  await f.close();
});

test('SafeFetcher: https only, no userinfo', async () => {
  const f = policy();
  assert.equal(await reason(f.json(`http://localhost:1/jwks`)), 'not https (S8)');
  assert.equal(await reason(f.json(`https://u:p@localhost:1/jwks`)), 'userinfo in URL');
  await f.close();
});

test('SafeFetcher: body over 256 KB is refused', async () => {
  idp.mode = 'huge';
  const f = policy();
  assert.equal(await reason(f.json(`${idp.issuer}/jwks`)), 'body over the size cap');
  idp.mode = 'ok';
  await f.close();
});

test('SafeFetcher: a server that never answers times out (deadline for the whole fetch)', async () => {
  idp.mode = 'slow';
  const f = policy({ timeoutMs: 300 });
  assert.equal(await reason(f.json(`${idp.issuer}/jwks`)), 'timeout');
  idp.mode = 'ok';
  await f.close();
});

test('SafeFetcher: redirects are not followed', async () => {
  idp.mode = 'redirect';
  const f = policy();
  assert.equal(await reason(f.json(`${idp.issuer}/jwks`)), 'status 302');
  idp.mode = 'ok';
  await f.close();
});

test('SafeFetcher: an untrusted certificate fails', async () => {
  const f = new SafeFetcher({ timeoutMs: 5000, maxBytes: 256 * 1024, allowPrivateNetwork: true });
  assert.match(await reason(f.json(`${idp.issuer}/jwks`)), /^network error/);
  await f.close();
});

test('isSpecialAddress', () => {
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '64:ff9b::a00:1']) assert.equal(isSpecialAddress(a), true, a);
  for (const a of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111']) assert.equal(isSpecialAddress(a), false, a);
});
