// CertificateStore: start-up errors, SNI selection and hot reload, checked with real handshakes
// against an HTTP/2 server built with tlsServerOptions + attachCertificateStore.
import assert from 'node:assert/strict';
import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { TlsFileError } from './pem-files.ts';
import { CertificateStore } from './store.ts';
import type { CertificateEntry, ReloadEvent } from './store.ts';
import { eventually, handshake, makeCa, makeLeaf, startServer, tempDir, writePair } from './testing.ts';
import type { Issued } from './testing.ts';

const FAST_WATCH = { debounceMs: 50, pollIntervalMs: 200 };
const DAY = 86_400_000;

/** The SHA-256 fingerprint of the certificate served for `servername` (undefined: no SNI). */
async function served(port: number, servername?: string): Promise<string> {
  const r = await handshake(port, servername === undefined ? {} : { servername });
  assert.ok(r.ok, JSON.stringify(r));
  return r.peer.fingerprint256;
}

describe('CertificateStore start-up', () => {
  test('CertificateStore throws an error naming a missing certificate file', (t) => {
    const dir = tempDir(t);
    const missing = join(dir, 'nope.crt');
    assert.throws(() => new CertificateStore([{ certFile: missing, keyFile: join(dir, 'nope.key') }], { watch: false }), (err: unknown) => {
      assert.ok(err instanceof TlsFileError);
      assert.equal(err.file, missing);
      assert.equal(err.problem, 'unreadable');
      assert.match(err.message, new RegExp(`^${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: cannot read the certificate \\(ENOENT`));
      return true;
    });
  });

  test('CertificateStore refuses a key that does not match, an expired or not-a-PEM certificate, and uncovered names', (t) => {
    const dir = tempDir(t);
    const a = makeLeaf(undefined, ['a.example.com']);
    const b = makeLeaf(undefined, ['b.example.com']);
    const mismatch = writePair(dir, 'mismatch', { certPem: a.certPem, keyPem: b.keyPem });
    const expired = writePair(dir, 'expired', makeLeaf(undefined, ['a.example.com'], { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) }));
    const garbage = writePair(dir, 'garbage', { certPem: 'hello\n', keyPem: a.keyPem });
    const good = writePair(dir, 'good', a);
    const cases: Array<[CertificateEntry, string, RegExp]> = [
      [mismatch, mismatch.keyFile, /private key does not match the certificate/],
      [expired, expired.certFile, /expired on/],
      [garbage, garbage.certFile, /no PEM certificate/],
      [{ ...good, serverNames: ['other.example.com'] }, good.certFile, /does not cover server name "other.example.com"/],
    ];
    for (const [entry, file, message] of cases) {
      assert.throws(() => new CertificateStore([entry], { watch: false }), (err: unknown) => {
        assert.ok(err instanceof TlsFileError, String(err));
        assert.equal(err.file, file);
        assert.match(err.message, message);
        return true;
      });
    }
  });

  test('CertificateStore refuses a server name listed for two certificates', (t) => {
    const dir = tempDir(t);
    const a = writePair(dir, 'a', makeLeaf(undefined, ['api.example.com']));
    const b = writePair(dir, 'b', makeLeaf(undefined, ['api.example.com']));
    assert.throws(
      () => new CertificateStore([{ ...a, serverNames: ['api.example.com'] }, { ...b, serverNames: ['API.example.com'] }], { watch: false }),
      /server name "api.example.com" is listed for two certificates/,
    );
  });
});

describe('CertificateStore SNI', () => {
  test('CertificateStore picks the certificate by SNI: exact, case-insensitive, wildcard, default', async (t) => {
    const dir = tempDir(t);
    const ca = makeCa('SNI test CA');
    const def = makeLeaf(ca, ['default.example.com']);
    const api = makeLeaf(ca, ['api.example.com']);
    const wild = makeLeaf(ca, ['*.example.org']);
    const admin = makeLeaf(ca, ['admin.example.com', 'admin2.example.com']);
    const store = new CertificateStore([
      writePair(dir, 'default', def),
      writePair(dir, 'api', api),
      writePair(dir, 'wild', wild),
      { ...writePair(dir, 'admin', admin), serverNames: ['admin.example.com'] },
    ], { watch: false });
    t.after(() => store.close());
    const { port } = await startServer(t, store);
    const fp = (i: Issued): string => i.cert.fingerprint256;

    assert.equal(await served(port, 'api.example.com'), fp(api));
    assert.equal(await served(port, 'API.Example.COM'), fp(api));
    assert.equal(await served(port, 'x.example.org'), fp(wild));
    assert.equal(await served(port, 'a.b.example.org'), fp(def), 'a wildcard covers one label only');
    assert.equal(await served(port, 'example.org'), fp(def));
    assert.equal(await served(port, 'admin.example.com'), fp(admin));
    assert.equal(await served(port, 'admin2.example.com'), fp(def), 'explicit serverNames replace the SAN names');
    assert.equal(await served(port, 'unknown.test'), fp(def));
    assert.equal(await served(port), fp(def), 'no SNI: the default certificate');

    const r = await handshake(port, { servername: 'x.example.org', ca: ca.certPem, rejectUnauthorized: true });
    assert.ok(r.ok, JSON.stringify(r));
    assert.equal(r.peer.subjectaltname, 'DNS:*.example.org');
  });
});

describe('CertificateStore reload', () => {
  test('CertificateStore serves a certificate overwritten in place at the next handshake, with and without SNI', async (t) => {
    const dir = tempDir(t);
    const first = makeLeaf(undefined, ['reload.example.com']);
    const files = writePair(dir, 'server', first);
    const reloads: ReloadEvent[] = [];
    const store = new CertificateStore([files], { watch: FAST_WATCH, onReload: (e) => reloads.push(e) });
    t.after(() => store.close());
    const { port } = await startServer(t, store);
    assert.equal(await served(port, 'reload.example.com'), first.cert.fingerprint256);

    const second = makeLeaf(undefined, ['reload.example.com']);
    writeFileSync(files.keyFile, second.keyPem);
    writeFileSync(files.certFile, second.certPem);
    assert.ok(await eventually(async () => (await served(port, 'reload.example.com')) === second.cert.fingerprint256));
    assert.equal(await served(port), second.cert.fingerprint256, 'the default context (no SNI) is swapped too');
    assert.ok(reloads.length >= 1);
    assert.deepEqual(reloads.at(-1)?.certFiles, [files.certFile]);
  });

  test('CertificateStore follows files replaced by rename, as editors and certbot do', async (t) => {
    const dir = tempDir(t);
    const first = makeLeaf(undefined, ['localhost']);
    const files = writePair(dir, 'server', first);
    const store = new CertificateStore([files], { watch: FAST_WATCH });
    t.after(() => store.close());
    const { port } = await startServer(t, store);
    const second = makeLeaf(undefined, ['localhost']);
    const staged = writePair(dir, 'staged', second);
    renameSync(staged.keyFile, files.keyFile);
    renameSync(staged.certFile, files.certFile);
    assert.ok(await eventually(async () => (await served(port)) === second.cert.fingerprint256));
  });

  test('CertificateStore keeps serving the old pair when the replacement is broken, and reports why', async (t) => {
    const dir = tempDir(t);
    const first = makeLeaf(undefined, ['localhost']);
    const files = writePair(dir, 'server', first);
    const errors: Error[] = [];
    const store = new CertificateStore([files], { watch: FAST_WATCH, onError: (e) => errors.push(e) });
    t.after(() => store.close());
    const { port } = await startServer(t, store);

    const other = makeLeaf(undefined, ['localhost']);
    const expired = makeLeaf(undefined, ['localhost'], { notBefore: new Date(Date.now() - 10 * DAY), notAfter: new Date(Date.now() - DAY) });
    const broken: Array<[string, () => void, RegExp]> = [
      ['key mismatch', () => writeFileSync(files.certFile, other.certPem), /does not match/],
      ['garbage', () => writeFileSync(files.certFile, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'), /not a valid PEM certificate/],
      ['expired', () => { writeFileSync(files.keyFile, expired.keyPem); writeFileSync(files.certFile, expired.certPem); }, /expired on/],
      ['empty', () => writeFileSync(files.certFile, ''), /no PEM certificate/],
      ['deleted', () => rmSync(files.certFile), /cannot read the certificate \(ENOENT/],
    ];
    for (const [label, breakIt, message] of broken) {
      const before = errors.length;
      breakIt();
      // (a check between two writes may first report a key mismatch: wait for the final word)
      assert.ok(await eventually(() => errors.slice(before).some((e) => message.test(e.message))), `${label}: reported`);
      assert.ok(errors.slice(before).every((e) => /previous certificate keeps serving/.test(e.message)));
      assert.equal(await served(port), first.cert.fingerprint256, `${label}: the old pair still serves`);
    }
    // A good pair after the broken ones is taken.
    const good = makeLeaf(undefined, ['localhost']);
    writeFileSync(files.keyFile, good.keyPem);
    writeFileSync(files.certFile, good.certPem);
    assert.ok(await eventually(async () => (await served(port)) === good.cert.fingerprint256));
  });

  test('CertificateStore reload() without a watcher swaps in new files and reports no change twice', (t) => {
    const dir = tempDir(t);
    const files = writePair(dir, 'server', makeLeaf(undefined, ['localhost']));
    const store = new CertificateStore([files], { watch: false });
    const before = store.certificateFor(undefined);
    assert.equal(store.reload(), false);
    writePair(dir, 'server', makeLeaf(undefined, ['localhost']));
    assert.equal(store.reload(), true);
    assert.notEqual(store.certificateFor(undefined), before);
    assert.equal(store.reload(), false);
  });

  test('CertificateStore without an error listener reports a failed reload as a process warning, never a throw', async (t) => {
    const dir = tempDir(t);
    const files = writePair(dir, 'server', makeLeaf(undefined, ['localhost']));
    const store = new CertificateStore([files], { watch: false });
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => { warnings.push(w); };
    process.on('warning', onWarning);
    t.after(() => process.off('warning', onWarning));
    writeFileSync(files.certFile, 'garbage');
    assert.equal(store.reload(), false);
    assert.ok(await eventually(() => warnings.some((w) => /TLS reload refused/.test(w.message)), 2_000));
  });
});
