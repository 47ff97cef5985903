// upstreamConnectOptions with undici against a real HTTPS upstream on loopback that requires a
// client certificate: verified server, mTLS, serverName for IP targets, and every way it must fail.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import type { TLSSocket } from 'node:tls';
import { Agent, request } from 'undici';
import { TlsFileError } from './pem-files.ts';
import { makeCa, makeLeaf, tempDir, writePair } from './testing.ts';
import { upstreamConnectOptions } from './upstream.ts';
import type { UpstreamTlsConfig } from './upstream.ts';

interface Upstream { port: number; dir: string; caFile: string; client: { certFile: string; keyFile: string } }

async function upstream(t: TestContext): Promise<Upstream> {
  const dir = tempDir(t);
  const serverCa = makeCa('upstream CA');
  const gatewayCa = makeCa('gateway client CA');
  const server = createServer({
    ...(({ certPem, keyPem }) => ({ cert: certPem, key: keyPem }))(makeLeaf(serverCa, ['orders.internal'])),
    ca: gatewayCa.certPem, requestCert: true, rejectUnauthorized: true,
  }, (req, res) => {
    res.end(JSON.stringify({ client: (req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? null }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const caFile = join(dir, 'upstream-ca.pem');
  writeFileSync(caFile, serverCa.certPem);
  return {
    port: (server.address() as AddressInfo).port, dir, caFile,
    client: writePair(dir, 'gateway', makeLeaf(gatewayCa, ['rampart-gateway'], { usage: 'clientAuth', commonName: 'rampart-gateway' })),
  };
}

async function call(t: TestContext, port: number, config: UpstreamTlsConfig): Promise<string> {
  const agent = new Agent({ connect: { ...upstreamConnectOptions(config), timeout: 5_000 } });
  t.after(() => agent.close());
  try {
    const res = await request(`https://127.0.0.1:${port}/`, { dispatcher: agent, headersTimeout: 5_000, bodyTimeout: 5_000 });
    return `${res.statusCode} ${await res.body.text()}`;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return `error ${e.code ?? ''} ${e.message}`;
  }
}

describe('upstreamConnectOptions', () => {
  test('upstreamConnectOptions verifies the upstream and presents the gateway certificate (mTLS)', async (t) => {
    const u = await upstream(t);
    const opts = upstreamConnectOptions({ caFile: u.caFile, ...u.client, serverName: 'orders.internal' });
    assert.equal(opts.rejectUnauthorized, true);
    assert.equal(opts.minVersion, 'TLSv1.2');
    assert.equal(opts.servername, 'orders.internal');
    assert.equal(await call(t, u.port, { caFile: u.caFile, ...u.client, serverName: 'orders.internal' }), '200 {"client":"rampart-gateway"}');
  });

  test('upstreamConnectOptions fails without the client certificate, with the wrong CA or the wrong name', async (t) => {
    const u = await upstream(t);
    const otherCa = join(u.dir, 'other-ca.pem');
    writeFileSync(otherCa, makeCa('someone else').certPem);
    const noClient = await call(t, u.port, { caFile: u.caFile, serverName: 'orders.internal' });
    assert.match(noClient, /^error/, 'no client certificate');
    const wrongCa = await call(t, u.port, { caFile: otherCa, ...u.client, serverName: 'orders.internal' });
    assert.match(wrongCa, /^error .*(UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify)/i, 'untrusted upstream');
    const wrongName = await call(t, u.port, { caFile: u.caFile, ...u.client, serverName: 'billing.internal' });
    assert.match(wrongName, /^error .*ERR_TLS_CERT_ALTNAME_INVALID/, 'name mismatch');
    const byAddress = await call(t, u.port, { caFile: u.caFile, ...u.client });
    assert.match(byAddress, /^error .*ERR_TLS_CERT_ALTNAME_INVALID/, 'IP target without serverName');
    const publicRoots = await call(t, u.port, { ...u.client, serverName: 'orders.internal' });
    assert.match(publicRoots, /^error/, 'no caFile: only public roots');
  });

  test('upstreamConnectOptions rejects bad configuration with the file named', (t) => {
    const dir = tempDir(t);
    const pair = writePair(dir, 'c', makeLeaf(undefined, ['x'], { usage: 'clientAuth' }));
    assert.throws(() => upstreamConnectOptions({ certFile: pair.certFile }), /certFile and keyFile go together/);
    assert.throws(() => upstreamConnectOptions({ serverName: '10.0.0.1' }), /must be a host name/);
    assert.throws(() => upstreamConnectOptions({ caFile: join(dir, 'missing.pem') }), (err: unknown) =>
      err instanceof TlsFileError && err.file === join(dir, 'missing.pem') && /cannot read the CA certificate/.test(err.message));
    const other = writePair(dir, 'o', makeLeaf(undefined, ['y']));
    assert.throws(() => upstreamConnectOptions({ certFile: pair.certFile, keyFile: other.keyFile }), /does not match/);
  });
});
