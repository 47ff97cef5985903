/**
 * The gateway's HTTPS listener with file certificates: SNI, hot reload of certificates, protocol
 * and cipher floor, client certificates required per route (mTLS), and an sslscan grade.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { randomBytes } from 'node:crypto';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { writeFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { Agent, request } from 'undici';
import { makeCa, makeLeaf, type Issued } from '../../src/tls/testing.ts';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';

const run = promisify(execFile);
let ca: Issued;
let clientCa: Issued;
let echo: EchoServer;
let t: TestGateway;

function handshake(o: tls.ConnectionOptions): Promise<{ ok: boolean; subject?: string; protocol?: string | null; error?: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: t.port(), ca: ca.certPem, ...o }, () => {
      const cert = s.getPeerCertificate();
      resolve({ ok: true, subject: cert.subject?.CN as string, protocol: s.getProtocol() });
      s.destroy();
    });
    s.on('error', (e) => resolve({ ok: false, error: e.message }));
    s.setTimeout(3000, () => {
      s.destroy();
      resolve({ ok: false, error: 'timeout' });
    });
  });
}

before(async () => {
  ca = makeCa('Test CA');
  clientCa = makeCa('Client CA');
  echo = await startEcho();
  const api = makeLeaf(ca, ['api.test'], { commonName: 'api.test' });
  const www = makeLeaf(ca, ['www.test'], { commonName: 'www.test' });
  t = await startTestGateway(
    `
listeners:
  - name: public
    port: 0
    protocol: https
    tls:
      certificates:
        - { cert: api.crt, key: api.key }
        - { cert: www.crt, key: www.key }
      clientAuth: { ca: client-ca.crt, required: false }
masterKey: { file: master.key }
upstreams:
  - id: echo
    targets: [{ url: ${echo.url} }]
routes:
  - { id: open, path: /open, upstream: echo }
  - { id: mtls, path: /mtls, upstream: echo, requireClientCertificate: true }
`,
    {
      files: {
        'api.crt': api.certPem, 'api.key': api.keyPem, 'www.crt': www.certPem, 'www.key': www.keyPem,
        'client-ca.crt': clientCa.certPem, 'master.key': randomBytes(32).toString('hex'),
      },
    },
  );
});
after(async () => {
  await t?.close();
  await echo?.close();
});

test('SNI picks the certificate by server name', async () => {
  assert.equal((await handshake({ servername: 'api.test' })).subject, 'api.test');
  assert.equal((await handshake({ servername: 'www.test' })).subject, 'www.test');
});

test('TLS 1.3 by default; TLS 1.0/1.1 and CBC-only clients are refused', async () => {
  assert.equal((await handshake({ servername: 'api.test' })).protocol, 'TLSv1.3');
  assert.equal((await handshake({ servername: 'api.test', maxVersion: 'TLSv1.2' })).protocol, 'TLSv1.2');
  for (const v of ['TLSv1', 'TLSv1.1'] as const) {
    const r = await handshake({ servername: 'api.test', minVersion: v, maxVersion: v, ciphers: 'DEFAULT:@SECLEVEL=0' });
    assert.equal(r.ok, false, `${v} must be refused`);
  }
  const cbc = await handshake({ servername: 'api.test', maxVersion: 'TLSv1.2', ciphers: 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384:ECDHE-RSA-AES128-SHA' });
  assert.equal(cbc.ok, false, 'CBC-only client must be refused');
});

test('a route that requires a client certificate refuses a connection without one (mTLS)', async () => {
  const plain = new Agent({ connect: { ca: ca.certPem, servername: 'api.test' } });
  const res = await request(`https://127.0.0.1:${t.port()}/mtls`, { dispatcher: plain, headers: { host: 'api.test' } });
  const body = await res.body.json() as { code: string };
  assert.equal(res.statusCode, 403);
  assert.equal(body.code, 'RAMPART_TLS_CLIENT_CERT_REQUIRED');
  const open = await request(`https://127.0.0.1:${t.port()}/open`, { dispatcher: plain, headers: { host: 'api.test' } });
  await open.body.text();
  assert.equal(open.statusCode, 200);
  const client = makeLeaf(clientCa, ['client.test'], { usage: 'clientAuth', commonName: 'service-a' });
  const withCert = new Agent({ connect: { ca: ca.certPem, servername: 'api.test', cert: client.certPem, key: client.keyPem } });
  const ok = await request(`https://127.0.0.1:${t.port()}/mtls`, { dispatcher: withCert, headers: { host: 'api.test' } });
  await ok.body.text();
  assert.equal(ok.statusCode, 200);
  // A certificate from another CA is not verified.
  const stranger = makeLeaf(makeCa('Other CA'), ['client.test'], { usage: 'clientAuth' });
  const bad = new Agent({ connect: { ca: ca.certPem, servername: 'api.test', cert: stranger.certPem, key: stranger.keyPem } });
  const denied = await request(`https://127.0.0.1:${t.port()}/mtls`, { dispatcher: bad, headers: { host: 'api.test' } }).then(
    async (r) => (await r.body.text(), r.statusCode),
    () => 0,
  );
  assert.ok(denied === 403 || denied === 0, `status ${denied}`);
  await Promise.all([plain.close(), withCert.close(), bad.close()]);
});

test('certificates reload when their files change, without a restart', async () => {
  const renewed = makeLeaf(ca, ['api.test'], { commonName: 'api.test' });
  writeFileSync(path.join(t.dir, 'api.key'), renewed.keyPem);
  writeFileSync(path.join(t.dir, 'api.crt'), renewed.certPem);
  const want = renewed.cert.fingerprint256;
  let got = '';
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline) {
    got = await new Promise<string>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: t.port(), ca: ca.certPem, servername: 'api.test' }, () => {
        resolve(s.getPeerCertificate().fingerprint256);
        s.destroy();
      });
      s.on('error', () => resolve(''));
    });
    if (got === want) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(got, want);
});

test('sslscan: no protocol below TLS 1.2 and no non-AEAD cipher on the gateway', async (ctx) => {
  const bin = ['/usr/bin/sslscan', '/usr/local/bin/sslscan'].find((p) => existsSync(p));
  if (!bin) {
    if (process.env.CI === 'true') assert.fail('sslscan is required under CI (.ci/run installs it)');
    ctx.skip('sslscan not installed');
    return;
  }
  const { stdout } = await run(bin, ['--no-colour', '--sni-name=api.test', `127.0.0.1:${t.port()}`], { timeout: 60_000 });
  for (const proto of ['SSLv2', 'SSLv3', 'TLSv1.0', 'TLSv1.1']) {
    assert.match(stdout, new RegExp(`${proto.replace('.', '\\.')}\\s+disabled`), `${proto} must be disabled`);
  }
  const accepted = stdout.split('\n').filter((l) => /^(Preferred|Accepted)\s/.test(l));
  assert.ok(accepted.length > 0, 'sslscan listed accepted ciphers');
  for (const line of accepted) {
    assert.match(line, /GCM|CHACHA20/, `non-AEAD cipher accepted: ${line}`);
    assert.doesNotMatch(line, /SHA1?\s*$|CBC|RC4|DES|NULL|EXP/i, line);
  }
});

test('mTLS per server name: a certificate\'s own clientAuth requires client certificates on its names only', async () => {
  const api = makeLeaf(ca, ['api.test'], { commonName: 'api.test' });
  const partners = makeLeaf(ca, ['partners.test'], { commonName: 'partners.test' });
  const g = await startTestGateway(`
listeners:
  - name: public
    port: 0
    protocol: https
    tls:
      certificates:
        - { cert: api.crt, key: api.key }
        - { cert: partners.crt, key: partners.key, clientAuth: { ca: client-ca.crt, required: true } }
masterKey: { file: master.key }
upstreams:
  - id: echo
    targets: [{ url: ${echo.url} }]
routes:
  - { id: open, path: /open, methods: [GET], upstream: echo }
`, { files: { 'api.crt': api.certPem, 'api.key': api.keyPem, 'partners.crt': partners.certPem, 'partners.key': partners.keyPem, 'client-ca.crt': clientCa.certPem, 'master.key': randomBytes(32).toString('hex') } });
  const get = async (name: string, cert?: Issued) => {
    const agent = new Agent({ connect: { ca: ca.certPem, servername: name, ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}) } });
    try {
      const r = await request(`https://127.0.0.1:${g.port()}/open`, { dispatcher: agent, headers: { host: name } });
      await r.body.text();
      return r.statusCode;
    } catch {
      return 0; // the connection was closed after the handshake
    } finally {
      await agent.close();
    }
  };
  try {
    const client = makeLeaf(clientCa, ['client.test'], { usage: 'clientAuth', commonName: 'partner-a' });
    assert.equal(await get('api.test'), 200, 'the public name needs no client certificate');
    assert.equal(await get('partners.test'), 0, 'the partner name closes without one');
    assert.equal(await get('partners.test', client), 200);
    assert.equal(await get('partners.test', makeLeaf(makeCa('Other CA'), ['x.test'], { usage: 'clientAuth' })), 0);
  } finally {
    await g.close();
  }
});
