// tlsPolicy: real handshakes against an HTTP/2 server built with the production options, each
// refusal paired with a legacy control server that accepts the same client, so that a refusal
// proves the policy and not a client that could not speak the protocol.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { connect, createServer } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { CertificateStore } from './store.ts';
import { handshake, makeLeaf, startServer, tempDir, writePair } from './testing.ts';
import type { Issued, KeyKind } from './testing.ts';
import { tlsPolicy, TLS12_CIPHERS } from './policy.ts';

const LEGACY: ConnectionOptions = { ciphers: 'DEFAULT:@SECLEVEL=0' };

async function ourServer(t: TestContext, kind: KeyKind): Promise<{ port: number; leaf: Issued }> {
  const leaf = makeLeaf(undefined, ['localhost'], { kind });
  const store = new CertificateStore([writePair(tempDir(t), 'server', leaf)], { watch: false });
  const { port } = await startServer(t, store);
  return { port, leaf };
}

async function legacyServer(t: TestContext, leaf: Issued): Promise<number> {
  const server = createServer({ key: leaf.keyPem, cert: leaf.certPem, minVersion: 'TLSv1', ciphers: 'ALL:@SECLEVEL=0' }, (s) => s.end());
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as AddressInfo).port;
}

describe('tlsPolicy', () => {
  test('tlsPolicy has TLS 1.2 minimum, ECDHE+AEAD TLS 1.2 suites, and the curve list', () => {
    const p = tlsPolicy();
    assert.equal(p.minVersion, 'TLSv1.2');
    assert.equal(p.ecdhCurve, 'X25519:P-256:P-384');
    assert.equal(p.honorCipherOrder, true);
    for (const c of TLS12_CIPHERS) assert.match(c, /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/);
    assert.ok(Object.isFrozen(p));
  });

  test('tlsPolicy negotiates TLS 1.3 with a default client', async (t) => {
    const { port } = await ourServer(t, 'ec');
    const r = await handshake(port);
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.protocol, 'TLSv1.3');
  });

  test('tlsPolicy accepts a TLS 1.2 client with ECDHE and AEAD', async (t) => {
    for (const kind of ['ec', 'rsa'] as const) {
      const { port } = await ourServer(t, kind);
      const r = await handshake(port, { maxVersion: 'TLSv1.2' });
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.protocol, 'TLSv1.2');
      assert.ok(TLS12_CIPHERS.includes(r.cipher), r.cipher);
    }
  });

  for (const [version, label] of [['TLSv1', 'TLS 1.0'], ['TLSv1.1', 'TLS 1.1']] as const) {
    test(`tlsPolicy refuses a ${label} client`, async (t) => {
      const { port, leaf } = await ourServer(t, 'rsa');
      const client: ConnectionOptions = { ...LEGACY, minVersion: version, maxVersion: version };
      const control = await handshake(await legacyServer(t, leaf), client);
      assert.ok(control.ok && control.protocol === version, `control: ${JSON.stringify(control)}`);
      const r = await handshake(port, client);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.code, /PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL/);
    });
  }

  for (const [kind, ciphers] of [
    ['rsa', 'ECDHE-RSA-AES128-SHA'], // CBC
    ['ec', 'ECDHE-ECDSA-AES256-SHA'], // CBC
    ['rsa', 'ECDHE-RSA-AES128-SHA256'], // CBC with SHA-2
    ['rsa', 'AES128-GCM-SHA256'], // AEAD but RSA key exchange: no forward secrecy
  ] as const) {
    test(`tlsPolicy refuses a TLS 1.2 client offering only ${ciphers}`, async (t) => {
      const { port, leaf } = await ourServer(t, kind);
      const client: ConnectionOptions = { maxVersion: 'TLSv1.2', ciphers: `${ciphers}:@SECLEVEL=0` };
      const control = await handshake(await legacyServer(t, leaf), client);
      assert.ok(control.ok && control.cipher === ciphers, `control: ${JSON.stringify(control)}`);
      const r = await handshake(port, client);
      assert.equal(r.ok, false, JSON.stringify(r));
      assert.match(r.ok ? '' : r.code, /HANDSHAKE_FAILURE/);
    });
  }

  test('tlsPolicy refuses a client whose only group is P-521', async (t) => {
    const { port } = await ourServer(t, 'ec');
    const r = await handshake(port, { ecdhCurve: 'P-521' });
    assert.equal(r.ok, false, JSON.stringify(r));
  });

  test('tlsPolicy refuses renegotiation (TLS 1.2)', async (t) => {
    const { port, leaf } = await ourServer(t, 'ec');
    const control = createServer({ key: leaf.keyPem, cert: leaf.certPem }, (s) => s.resume());
    await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => control.close(() => resolve())));
    assert.equal(await tryRenegotiate((control.address() as AddressInfo).port), 'renegotiated');
    assert.match(await tryRenegotiate(port), /^refused/);
  });
});

function tryRenegotiate(port: number): Promise<string> {
  return new Promise<string>((resolve) => {
    const timer = setTimeout(() => resolve('timeout'), 5_000);
    const done = (outcome: string): void => {
      clearTimeout(timer);
      resolve(outcome);
      socket.destroy();
    };
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, maxVersion: 'TLSv1.2' }, () => {
      socket.resume(); // read, so that the server's alert or close is seen
      socket.renegotiate({ rejectUnauthorized: false }, (err) => done(err ? `refused: ${err.message}` : 'renegotiated'));
    });
    socket.on('error', (err: NodeJS.ErrnoException) => done(`refused: ${err.code ?? err.message}`));
    socket.on('close', () => done('refused: closed'));
  });
}
