// tlsServerOptions + attachCertificateStore on a real http2.createSecureServer: ALPN, and client
// certificates (mTLS) per SNI name and per listener.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { connect as h2connect, createSecureServer } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { TestContext } from 'node:test';
import { connect } from 'node:tls';
import type { ConnectionOptions } from 'node:tls';
import { tlsPolicy } from './policy.ts';
import { attachCertificateStore, tlsServerOptions } from './server-options.ts';
import { CertificateStore } from './store.ts';
import { handshake, makeCa, makeLeaf, startServer, tempDir, writePair } from './testing.ts';
import type { Issued } from './testing.ts';

interface Answer { httpVersion: string; alpn: string; clientCertificate: boolean }
type Outcome = { ok: true; answer: Answer } | { ok: false; error: string };

interface ClientOptions { servername: string; ca: string; client?: Issued; h2?: boolean; session?: Buffer | undefined }

/** One GET / over HTTP/1.1 (https) or HTTP/2, bounded to 5 s. */
function get(port: number, o: ClientOptions): Promise<Outcome> {
  const tlsOpts = {
    servername: o.servername, ca: o.ca,
    ...(o.client ? { cert: o.client.certPem, key: o.client.keyPem } : {}),
    ...(o.session ? { session: o.session } : {}), // passed on to tls.connect
  };
  return new Promise((resolve) => {
    let settled = false;
    const done = (out: Outcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(out);
    };
    const timer = setTimeout(() => done({ ok: false, error: 'timeout' }), 5_000);
    const collect = (status: number | undefined, chunks: Buffer[]): void => {
      if (status !== 200) return done({ ok: false, error: `status ${String(status)}` });
      try {
        done({ ok: true, answer: JSON.parse(Buffer.concat(chunks).toString()) as Answer });
      } catch {
        done({ ok: false, error: 'truncated response' });
      }
    };
    if (o.h2) {
      const session = h2connect(`https://127.0.0.1:${port}`, tlsOpts);
      session.on('error', (err) => done({ ok: false, error: err.message }));
      session.on('close', () => done({ ok: false, error: 'closed' }));
      const req = session.request({ ':path': '/' });
      const chunks: Buffer[] = [];
      let status: number | undefined;
      req.on('response', (headers) => { status = headers[':status']; });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => { collect(status, chunks); session.close(); });
      req.on('error', (err) => done({ ok: false, error: err.message }));
      req.end();
    } else {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/', agent: false, ...tlsOpts }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => collect(res.statusCode, chunks));
      });
      req.on('error', (err) => done({ ok: false, error: err.message }));
      req.end();
    }
  });
}

describe('tlsServerOptions ALPN', () => {
  test('tlsServerOptions negotiates h2 and http/1.1 by ALPN and serves both', async (t) => {
    const ca = makeCa('ALPN CA');
    const store = new CertificateStore([writePair(tempDir(t), 'server', makeLeaf(ca, ['localhost']))], { watch: false });
    const { port } = await startServer(t, store);

    const both = await handshake(port, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.ok(both.ok && both.alpn === 'h2', JSON.stringify(both));
    const h1 = await handshake(port, { ALPNProtocols: ['http/1.1'] });
    assert.ok(h1.ok && h1.alpn === 'http/1.1', JSON.stringify(h1));

    const viaH2 = await get(port, { servername: 'localhost', ca: ca.certPem, h2: true });
    assert.deepEqual(viaH2, { ok: true, answer: { httpVersion: '2.0', alpn: 'h2', clientCertificate: false } });
    const viaH1 = await get(port, { servername: 'localhost', ca: ca.certPem });
    assert.ok(viaH1.ok && viaH1.answer.httpVersion === '1.1', JSON.stringify(viaH1));
  });

  test('tlsServerOptions with http2: false offers only http/1.1 and refuses an h2-only client', async (t) => {
    const store = new CertificateStore([writePair(tempDir(t), 'server', makeLeaf(undefined, ['localhost']))], { watch: false });
    const server = createSecureServer(tlsServerOptions(store, store.policy, { http2: false }), (_req, res) => res.end('ok'));
    attachCertificateStore(server, store);
    server.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const port = (server.address() as AddressInfo).port;
    const both = await handshake(port, { ALPNProtocols: ['h2', 'http/1.1'] });
    assert.ok(both.ok && both.alpn === 'http/1.1', JSON.stringify(both));
    const h2only = await handshake(port, { ALPNProtocols: ['h2'] });
    assert.equal(h2only.ok, false, JSON.stringify(h2only));
    const none = await handshake(port);
    assert.ok(none.ok, JSON.stringify(none));
  });

  test('tlsServerOptions refuses a policy other than the store\'s', (t) => {
    const store = new CertificateStore([writePair(tempDir(t), 'server', makeLeaf(undefined, ['localhost']))], { watch: false });
    assert.throws(() => tlsServerOptions(store, { ...store.policy, ciphers: 'ECDHE-RSA-AES128-GCM-SHA256' }), /another TLS policy/);
    assert.doesNotThrow(() => tlsServerOptions(store, tlsPolicy()));
  });
});

interface MtlsFixture {
  port: number;
  serverCa: Issued;
  trusted: Issued;
  stranger: Issued;
  store: CertificateStore;
}

/** www (no client auth, default), mtls.example.com (required), opt.example.com (optional). */
async function mtlsServer(t: TestContext, allRequired = false): Promise<MtlsFixture> {
  const dir = tempDir(t);
  const serverCa = makeCa('server CA');
  const clientCa = makeCa('client CA');
  const otherCa = makeCa('other client CA');
  const caFile = join(dir, 'client-ca.pem');
  writeFileSync(caFile, clientCa.certPem);
  const otherCaFile = join(dir, 'other-ca.pem');
  writeFileSync(otherCaFile, otherCa.certPem);
  const store = new CertificateStore([
    { ...writePair(dir, 'www', makeLeaf(serverCa, ['www.example.com'])), ...(allRequired ? { clientAuth: { caFile, required: true } } : {}) },
    { ...writePair(dir, 'mtls', makeLeaf(serverCa, ['mtls.example.com'])), clientAuth: { caFile, required: true } },
    { ...writePair(dir, 'opt', makeLeaf(serverCa, ['opt.example.com'])), clientAuth: { caFile: allRequired ? caFile : otherCaFile, required: allRequired } },
  ], { watch: false });
  const { port } = await startServer(t, store);
  return {
    port, serverCa, store,
    trusted: makeLeaf(clientCa, ['client-a'], { usage: 'clientAuth', commonName: 'client-a' }),
    stranger: makeLeaf(otherCa, ['client-b'], { usage: 'clientAuth', commonName: 'client-b' }),
  };
}

describe('tlsServerOptions mTLS', () => {
  test('tlsServerOptions: a client certificate from the configured CA is verified on a required name', async (t) => {
    const f = await mtlsServer(t);
    assert.equal(f.store.requestCert, true);
    assert.equal(f.store.rejectUnauthorized, false, 'one name without client auth: Node must not reject at handshake');
    for (const h2 of [false, true]) {
      const r = await get(f.port, { servername: 'mtls.example.com', ca: f.serverCa.certPem, client: f.trusted, h2 });
      assert.ok(r.ok, JSON.stringify(r));
      assert.equal(r.answer.clientCertificate, true);
    }
  });

  test('tlsServerOptions: a required name closes connections without a verified client certificate', async (t) => {
    const f = await mtlsServer(t);
    for (const client of [undefined, f.stranger]) {
      for (const h2 of [false, true]) {
        const r = await get(f.port, { servername: 'mtls.example.com', ca: f.serverCa.certPem, ...(client ? { client } : {}), h2 });
        assert.equal(r.ok, false, `client ${client?.cert.subject ?? 'none'} h2=${h2}: ${JSON.stringify(r)}`);
      }
    }
  });

  test('tlsServerOptions: an optional name serves everyone and tells verified clients apart', async (t) => {
    const f = await mtlsServer(t);
    const without = await get(f.port, { servername: 'opt.example.com', ca: f.serverCa.certPem });
    assert.ok(without.ok && without.answer.clientCertificate === false, JSON.stringify(without));
    // opt.example.com trusts the "other" CA: its client is verified there, the other is not.
    const withOwn = await get(f.port, { servername: 'opt.example.com', ca: f.serverCa.certPem, client: f.stranger });
    assert.ok(withOwn.ok && withOwn.answer.clientCertificate === true, JSON.stringify(withOwn));
    const withForeign = await get(f.port, { servername: 'opt.example.com', ca: f.serverCa.certPem, client: f.trusted });
    assert.ok(withForeign.ok && withForeign.answer.clientCertificate === false, JSON.stringify(withForeign));
  });

  test('tlsServerOptions: a name without client auth never reports a client certificate as verified', async (t) => {
    const f = await mtlsServer(t);
    const r = await get(f.port, { servername: 'www.example.com', ca: f.serverCa.certPem, client: f.trusted });
    assert.ok(r.ok && r.answer.clientCertificate === false, JSON.stringify(r));
  });

  test('tlsServerOptions: mTLS on every name is enforced in the handshake itself', async (t) => {
    const f = await mtlsServer(t, true);
    assert.equal(f.store.rejectUnauthorized, true);
    const refused = await handshake(f.port, { servername: 'www.example.com', ca: f.serverCa.certPem });
    const ok = await get(f.port, { servername: 'www.example.com', ca: f.serverCa.certPem, client: f.trusted });
    assert.ok(ok.ok && ok.answer.clientCertificate === true, JSON.stringify(ok));
    // TLS 1.3: the server's refusal arrives after the client's handshake completed, as an alert.
    if (refused.ok) {
      const r = await get(f.port, { servername: 'www.example.com', ca: f.serverCa.certPem });
      assert.equal(r.ok, false, JSON.stringify(r));
    }
  });

  test('tlsServerOptions: a session resumed on another name (or from one without a certificate) authorizes nothing', async (t) => {
    const f = await mtlsServer(t);
    for (const maxVersion of ['TLSv1.2', 'TLSv1.3'] as const) {
      const session = await sessionOf(f.port, { servername: 'mtls.example.com', ca: f.serverCa.certPem, cert: f.trusted.certPem, key: f.trusted.keyPem, maxVersion });
      const other = await sessionOf(f.port, { servername: 'www.example.com', ca: f.serverCa.certPem, maxVersion });
      for (const [label, s, servername] of [
        ['same name, no certificate', session, 'mtls.example.com'],
        ['other name', session, 'opt.example.com'],
        ['from a name without client auth', other, 'mtls.example.com'],
      ] as const) {
        const r = await get(f.port, { servername, ca: f.serverCa.certPem, session: s });
        const verified = r.ok && r.answer.clientCertificate;
        assert.equal(verified, false, `${maxVersion} ${label}: ${JSON.stringify(r)}`);
      }
    }
  });
});

/** Completes one handshake (and a round trip, for TLS 1.3 tickets) and returns the session. */
function sessionOf(port: number, options: ConnectionOptions): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    let session: Buffer | undefined;
    const timer = setTimeout(() => { socket.destroy(); resolve(session); }, 1_000);
    const socket = connect({ host: '127.0.0.1', port, ...options }, () => {
      socket.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    socket.on('session', (s: Buffer) => { session = s; });
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => { clearTimeout(timer); resolve(session); });
  });
}
