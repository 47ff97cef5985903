/**
 * Verified TLS and mTLS to an upstream (DESIGN practice 1, S2), with certificates issued for the
 * test by src/tls/x509.ts and a real node:https upstream.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueCertificate } from '../../tls/x509.ts';
import { onSecurityEvent, type SecurityEvent } from '../../observe/events.ts';
import { call, closeServer, listen, startGateway, upstreamConfig } from './test-harness.ts';

const pem = (k: KeyObject) => k.export({ type: 'pkcs8', format: 'pem' }) as string;

describe('proxy to a TLS upstream', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rampart-proxy-tls-'));
  const files = { ca: join(dir, 'ca.crt'), cert: join(dir, 'client.crt'), key: join(dir, 'client.key'), otherCa: join(dir, 'other-ca.crt') };
  let server: https.Server;
  let url: string;
  const clients: Array<{ authorized: boolean; subject: string | undefined }> = [];

  before(async () => {
    const now = Date.now();
    const validity = { notBefore: new Date(now - 60_000), notAfter: new Date(now + 3_600_000) };
    const mkCa = (name: string) => {
      const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      return { key: k.privateKey, cert: issueCertificate({ subject: { commonName: name }, publicKey: k.publicKey, issuer: { privateKey: k.privateKey }, ca: {}, ...validity }) };
    };
    const ca = mkCa('Proxy Test CA');
    const other = mkCa('Unrelated CA');
    const leaf = (cn: string, usage: 'serverAuth' | 'clientAuth', altNames?: string[]) => {
      const k = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const cert = issueCertificate({ subject: { commonName: cn }, publicKey: k.publicKey, issuer: { privateKey: ca.key, certificate: ca.cert }, extendedKeyUsage: [usage], ...(altNames && { altNames }), ...validity });
      return { cert, key: pem(k.privateKey) };
    };
    const serverLeaf = leaf('orders.internal', 'serverAuth', ['orders.internal', '127.0.0.1']);
    const clientLeaf = leaf('rampart-gateway', 'clientAuth');
    writeFileSync(files.ca, ca.cert);
    writeFileSync(files.otherCa, other.cert);
    writeFileSync(files.cert, clientLeaf.cert);
    writeFileSync(files.key, clientLeaf.key, { mode: 0o600 });
    server = https.createServer({ cert: serverLeaf.cert, key: serverLeaf.key, ca: ca.cert, requestCert: true, rejectUnauthorized: false }, (req, res) => {
      const socket = req.socket as TLSSocket;
      const cn = socket.getPeerCertificate()?.subject?.CN;
      clients.push({ authorized: socket.authorized, subject: Array.isArray(cn) ? cn.join(',') : cn });
      res.end('secure');
    });
    url = `https://127.0.0.1:${await listen(server)}`;
  });
  after(async () => {
    await closeServer(server);
    rmSync(dir, { recursive: true, force: true });
  });

  test('verifies the upstream against the configured CA and presents the client certificate (mTLS)', async () => {
    const gw = await startGateway({ upstream: upstreamConfig('tls-ok', [url], { tls: { ca: files.ca, cert: files.cert, key: files.key } }) });
    try {
      const res = await call(`${gw.url}/x`);
      assert.equal(res.status, 200);
      assert.equal(res.body.toString(), 'secure');
      assert.deepEqual(clients.at(-1), { authorized: true, subject: 'rampart-gateway' });
    } finally {
      await gw.close();
    }
  });

  test('an upstream certificate from another CA is refused: 502 and a security event', async () => {
    const events: SecurityEvent[] = [];
    const off = onSecurityEvent((e) => events.push(e));
    const gw = await startGateway({ upstream: upstreamConfig('tls-bad', [url], { tls: { ca: files.otherCa }, retries: { attempts: 0, backoffMs: 0 } }) });
    try {
      const res = await call(`${gw.url}/x`);
      assert.equal(res.status, 502);
      assert.equal(res.json().code, 'RAMPART_UPSTREAM_CONNECT_FAILED');
      assert.ok(events.some((e) => e['event.action'] === 'proxy.upstream_tls_failed'));
    } finally {
      off();
      await gw.close();
    }
  });

  test('the certificate must name serverName when one is configured', async () => {
    const good = await startGateway({ upstream: upstreamConfig('tls-sni', [url], { tls: { ca: files.ca, serverName: 'orders.internal' } }) });
    const bad = await startGateway({ upstream: upstreamConfig('tls-sni-bad', [url], { tls: { ca: files.ca, serverName: 'billing.internal' }, retries: { attempts: 0, backoffMs: 0 } }) });
    try {
      assert.equal((await call(`${good.url}/x`)).status, 200);
      assert.equal((await call(`${bad.url}/x`)).status, 502);
    } finally {
      await good.close();
      await bad.close();
    }
  });
});
