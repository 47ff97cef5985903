// Test support for src/tls: throw-away PKI, temp dirs, a real HTTP/2 server built with the
// production options, and a bounded TLS handshake. Keys are generated per run, never committed.
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createSecureServer } from 'node:http2';
import type { Http2SecureServer } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import type { TestContext } from 'node:test';
import { attachCertificateStore, tlsServerOptions } from './server-options.ts';
import type { CertificateStore } from './store.ts';
import { issueCertificate } from './x509.ts';

export interface Issued {
  certPem: string;
  keyPem: string;
  key: KeyObject;
  cert: X509Certificate;
}

export type KeyKind = 'ec' | 'rsa';

const DAY = 86_400_000;

function keyPair(kind: KeyKind): { publicKey: KeyObject; privateKey: KeyObject } {
  return kind === 'rsa'
    ? generateKeyPairSync('rsa', { modulusLength: 2048 })
    : generateKeyPairSync('ec', { namedCurve: 'P-256' });
}

function issued(certPem: string, privateKey: KeyObject): Issued {
  return { certPem, keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), key: privateKey, cert: new X509Certificate(certPem) };
}

export function makeCa(commonName: string, kind: KeyKind = 'ec'): Issued {
  const { publicKey, privateKey } = keyPair(kind);
  const now = Date.now();
  return issued(issueCertificate({
    subject: { commonName }, publicKey, issuer: { privateKey },
    notBefore: new Date(now - DAY), notAfter: new Date(now + 30 * DAY), ca: { pathLength: 0 },
  }), privateKey);
}

export interface LeafOptions {
  kind?: KeyKind;
  commonName?: string;
  usage?: 'serverAuth' | 'clientAuth';
  notBefore?: Date;
  notAfter?: Date;
}

/** A leaf for `names`, signed by `ca` (or self-signed when ca is undefined). */
export function makeLeaf(ca: Issued | undefined, names: string[], options: LeafOptions = {}): Issued {
  const { publicKey, privateKey } = keyPair(options.kind ?? 'ec');
  const now = Date.now();
  return issued(issueCertificate({
    subject: { commonName: options.commonName ?? names[0] ?? 'test' }, publicKey,
    issuer: ca ? { privateKey: ca.key, certificate: ca.cert } : { privateKey },
    notBefore: options.notBefore ?? new Date(now - DAY), notAfter: options.notAfter ?? new Date(now + 30 * DAY),
    altNames: names, extendedKeyUsage: [options.usage ?? 'serverAuth'],
  }), privateKey);
}

/** A temp dir under os.tmpdir(), removed after the test. */
export function tempDir(t: TestContext, prefix = 'rampart-tls-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Writes a pair as `<name>.crt` / `<name>.key` (0600) into dir. */
export function writePair(dir: string, name: string, pair: Pick<Issued, 'certPem' | 'keyPem'>): { certFile: string; keyFile: string } {
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  writeFileSync(certFile, pair.certPem);
  writeFileSync(keyFile, pair.keyPem, { mode: 0o600 });
  return { certFile, keyFile };
}

export interface TestServer {
  server: Http2SecureServer;
  port: number;
}

/**
 * A real http2.createSecureServer built with tlsServerOptions + attachCertificateStore on
 * 127.0.0.1:0. It answers every request with JSON: protocol, ALPN and client-certificate status.
 */
export async function startServer(t: TestContext, store: CertificateStore): Promise<TestServer> {
  const server = createSecureServer(tlsServerOptions(store), (req, res) => {
    const socket = req.socket as import('node:tls').TLSSocket;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({
      httpVersion: req.httpVersion,
      alpn: socket.alpnProtocol,
      clientCertificate: store.clientCertificateStatus(socket).verified,
    }));
  });
  const detach = attachCertificateStore(server, store);
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    detach();
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { server, port: (server.address() as AddressInfo).port };
}

export type Handshake =
  | { ok: true; protocol: string | null; cipher: string; alpn: string | false | null; peer: PeerCertificate; authorized: boolean }
  | { ok: false; code: string; message: string };

/** One TLS handshake against 127.0.0.1:port, bounded to 5 s, then the socket is closed. */
export function handshake(port: number, options: ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...options });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ ok: false, code: 'TIMEOUT', message: 'handshake took more than 5 s' });
    }, 5_000);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      resolve({
        ok: true,
        protocol: socket.getProtocol(),
        cipher: socket.getCipher().name,
        alpn: socket.alpnProtocol ?? null,
        peer: socket.getPeerCertificate(),
        authorized: socket.authorized,
      });
      socket.end();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve({ ok: false, code: err.code ?? 'ERROR', message: err.message });
      socket.destroy();
    });
  });
}

/** Polls `fn` every 25 ms until it returns true, for at most `ms`. */
export async function eventually(fn: () => Promise<boolean> | boolean, ms = 5_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await fn()) return true;
    await new Promise((r) => setTimeout(r, 25));
  }
  return fn();
}
