// ensureDevCertificates and the loopback guard (DESIGN practice 1, S4): files and modes, reuse,
// renewal, verification with real handshakes, and name constraints honoured by OpenSSL.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, id_ce_nameConstraints, NameConstraints } from '@peculiar/asn1-x509';
import { ensureDevCertificates } from './dev-ca.ts';
import { CertificateStore } from './store.ts';
import { handshake, makeLeaf, startServer, tempDir, writePair } from './testing.ts';
import { issueCertificate } from './x509.ts';

const DAY = 86_400_000;

function openssl(...args: string[]): string | undefined {
  try {
    return execFileSync('openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (e.code === 'ENOENT') return undefined;
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

function mode(path: string): number {
  return statSync(path).mode & 0o777;
}

describe('ensureDevCertificates', () => {
  test('ensureDevCertificates creates the CA and leaf with private modes, then reuses them', async (t) => {
    const dataDir = join(tempDir(t), '.rampart');
    const first = await ensureDevCertificates(dataDir);
    const dir = join(dataDir, 'tls');
    assert.equal(first.caCertPath, join(dir, 'ca.crt'));
    assert.deepEqual(first.created, { ca: true, leaf: true });
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(join(dir, 'ca.key')), 0o600);
    assert.equal(mode(first.keyPath), 0o600);
    assert.equal(readFileSync(first.caCertPath, 'utf8'), first.caCertPem);
    assert.equal(readFileSync(first.certPath, 'utf8'), first.certPem);

    const second = await ensureDevCertificates(dataDir);
    assert.deepEqual(second.created, { ca: false, leaf: false });
    assert.equal(second.caCertPem, first.caCertPem);
    assert.equal(second.certPem, first.certPem);
    assert.equal(second.keyPem, first.keyPem);
  });

  test('ensureDevCertificates issues an ECDSA P-256 leaf (≤ 90 days, SAN, serverAuth) under a CA of ≤ 2 years', async (t) => {
    const dev = await ensureDevCertificates(tempDir(t));
    const ca = new X509Certificate(dev.caCertPem);
    const leaf = new X509Certificate(dev.certPem);
    assert.equal(ca.ca, true);
    assert.ok(ca.validToDate.getTime() - ca.validFromDate.getTime() <= 731 * DAY);
    assert.ok(leaf.validToDate.getTime() - leaf.validFromDate.getTime() <= 90 * DAY);
    assert.equal(leaf.ca, false);
    assert.ok(leaf.checkIssued(ca) && leaf.verify(ca.publicKey));
    assert.equal(leaf.subjectAltName, 'DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    assert.deepEqual(leaf.keyUsage, ['1.3.6.1.5.5.7.3.1']);
    const key = createPrivateKey(dev.keyPem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  });

  test('ensureDevCertificates: the CA carries critical NameConstraints for localhost and loopback', async (t) => {
    const dev = await ensureDevCertificates(tempDir(t));
    const ca = new X509Certificate(dev.caCertPem);
    const ext = AsnConvert.parse(ca.raw, Certificate).tbsCertificate.extensions?.find((e) => e.extnID === id_ce_nameConstraints);
    assert.ok(ext, 'NameConstraints present');
    assert.equal(ext.critical, true);
    const nc = AsnConvert.parse(ext.extnValue, NameConstraints);
    const permitted = Array.from(nc.permittedSubtrees ?? [], (s) => s.base.dNSName ?? s.base.iPAddress);
    assert.deepEqual(permitted, ['localhost', '.localhost', '127.0.0.0/8', '::1/128']);
    assert.equal(nc.excludedSubtrees, undefined);

    const text = openssl('x509', '-in', dev.caCertPath, '-noout', '-text');
    if (text === undefined) return t.diagnostic('openssl not installed: text form not checked');
    assert.match(text, /X509v3 Name Constraints: critical\s+Permitted:\s+DNS:localhost\s+DNS:\.localhost\s+IP:127\.0\.0\.0\/255\.0\.0\.0\s+IP:0:0:0:0:0:0:0:1\/FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF:FFFF/);
  });

  test('ensureDevCertificates: the leaf verifies against ca.crt in a real handshake, by name and by address', async (t) => {
    const dev = await ensureDevCertificates(tempDir(t));
    const store = new CertificateStore([{ certFile: dev.certPath, keyFile: dev.keyPath }], { watch: false });
    const { port } = await startServer(t, store);
    for (const servername of ['localhost', undefined]) {
      const r = await handshake(port, { ca: dev.caCertPem, rejectUnauthorized: true, ...(servername ? { servername } : {}) });
      assert.ok(r.ok && r.authorized, JSON.stringify(r));
    }
    const verify = openssl('verify', '-CAfile', dev.caCertPath, dev.certPath);
    if (verify !== undefined) assert.match(verify, /: OK/);
  });

  test('ensureDevCertificates: a certificate for example.com signed by the dev CA fails verification', async (t) => {
    const dir = tempDir(t);
    const dev = await ensureDevCertificates(dir);
    const caKey = createPrivateKey(readFileSync(join(dir, 'tls', 'ca.key')));
    const rogue = makeLeaf(undefined, ['example.com']); // only for its key pair
    const rogueCert = issueCertificate({
      subject: { commonName: 'example.com' }, publicKey: rogue.key, issuer: { privateKey: caKey, certificate: dev.caCertPem },
      notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + DAY), altNames: ['example.com'], extendedKeyUsage: ['serverAuth'],
    });
    const files = writePair(tempDir(t), 'rogue', { certPem: rogueCert, keyPem: rogue.keyPem });
    const store = new CertificateStore([files], { watch: false });
    const { port } = await startServer(t, store);
    const r = await handshake(port, { servername: 'example.com', ca: dev.caCertPem, rejectUnauthorized: true });
    assert.equal(r.ok, false, JSON.stringify(r));
    assert.match(r.ok ? '' : `${r.code} ${r.message}`, /PERMITTED_SUBTREE_VIOLATION|permitted subtree violation/i);

    const verify = openssl('verify', '-CAfile', dev.caCertPath, files.certFile);
    if (verify !== undefined) assert.match(verify, /permitted subtree violation/);
  });

  test('ensureDevCertificates renews a leaf near expiry and reissues both when the CA changed', async (t) => {
    const dataDir = tempDir(t);
    const dev = await ensureDevCertificates(dataDir);
    const caKey = createPrivateKey(readFileSync(join(dataDir, 'tls', 'ca.key')));
    const leafKey = createPrivateKey(dev.keyPem);
    writeFileSync(dev.certPath, issueCertificate({
      subject: { commonName: 'localhost' }, publicKey: leafKey, issuer: { privateKey: caKey, certificate: dev.caCertPem },
      notBefore: new Date(Date.now() - 80 * DAY), notAfter: new Date(Date.now() + 10 * DAY),
      altNames: ['localhost', '127.0.0.1', '::1'], extendedKeyUsage: ['serverAuth'],
    }));
    const renewed = await ensureDevCertificates(dataDir);
    assert.deepEqual(renewed.created, { ca: false, leaf: true });
    assert.ok(new X509Certificate(renewed.certPem).validToDate.getTime() > Date.now() + 80 * DAY);

    rmSync(join(dataDir, 'tls', 'ca.key'));
    const fresh = await ensureDevCertificates(dataDir);
    assert.deepEqual(fresh.created, { ca: true, leaf: true });
    assert.notEqual(fresh.caCertPem, dev.caCertPem);
    assert.ok(new X509Certificate(fresh.certPem).verify(new X509Certificate(fresh.caCertPem).publicKey));
  });

  test('ensureDevCertificates adds loopback names on request and refuses others', async (t) => {
    const dataDir = tempDir(t);
    await ensureDevCertificates(dataDir);
    const more = await ensureDevCertificates(dataDir, ['app.localhost', '127.0.0.2']);
    assert.deepEqual(more.created, { ca: false, leaf: true });
    assert.match(new X509Certificate(more.certPem).subjectAltName ?? '', /DNS:app\.localhost.*IP Address:127\.0\.0\.2/);
    await assert.rejects(ensureDevCertificates(dataDir, ['example.com']), /"example.com" is not a loopback name/);
  });

  test('ensureDevCertificates tightens a key file left readable by others, and two concurrent calls share one CA', async (t) => {
    const dataDir = tempDir(t);
    const [a, b] = await Promise.all([ensureDevCertificates(dataDir), ensureDevCertificates(dataDir)]);
    assert.equal(a.caCertPem, b.caCertPem);
    assert.equal(a.certPem, b.certPem);
    chmodSync(join(dataDir, 'tls', 'ca.key'), 0o644);
    await ensureDevCertificates(dataDir);
    assert.equal(mode(join(dataDir, 'tls', 'ca.key')), 0o600);
  });

  test('CertificateStore.fromDevCertificates serves the dev leaf and marks the store as development', async (t) => {
    const dataDir = tempDir(t);
    const store = await CertificateStore.fromDevCertificates(dataDir, { watch: false });
    t.after(() => store.close());
    assert.equal(store.development, true);
    const { port } = await startServer(t, store);
    const r = await handshake(port, { servername: 'localhost', ca: readFileSync(join(dataDir, 'tls', 'ca.crt')), rejectUnauthorized: true });
    assert.ok(r.ok && r.authorized, JSON.stringify(r));
  });
});
