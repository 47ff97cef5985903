// An outside view of the listener: sslscan (its own OpenSSL) probes every protocol and cipher.
// Skipped when sslscan is not installed, except in CI (CI=true), where it must run.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { CertificateStore } from './store.ts';
import { makeLeaf, startServer, tempDir, writePair } from './testing.ts';

const run = promisify(execFile);

async function sslscanVersion(): Promise<string | undefined> {
  try {
    return (await run('sslscan', ['--version'], { timeout: 10_000 })).stdout;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** AEAD suites only: AES-GCM, ChaCha20-Poly1305 (TLS 1.2 names and TLS 1.3 names). */
const AEAD = /(GCM|CHACHA20[-_]POLY1305)/;
const WEAK = /(CBC|-SHA$|RC4|DES|NULL|EXP|MD5|anon|PSK|CAMELLIA|ARIA|SEED|IDEA)/;

describe('sslscan', () => {
  for (const kind of ['rsa', 'ec'] as const) {
    test(`sslscan finds only TLS 1.2/1.3 and ECDHE+AEAD on a listener with an ${kind.toUpperCase()} certificate`, async (t) => {
      if ((await sslscanVersion()) === undefined) {
        if (process.env['CI'] === 'true') assert.fail('sslscan is not installed on CI: install it (apt-get install -y sslscan) in .ci/run');
        t.skip('sslscan not installed');
        return;
      }
      const store = new CertificateStore([writePair(tempDir(t), 'server', makeLeaf(undefined, ['localhost'], { kind }))], { watch: false });
      const { port } = await startServer(t, store);
      const { stdout: xml } = await run('sslscan', ['--no-colour', '--xml=-', `127.0.0.1:${port}`], { timeout: 60_000, maxBuffer: 4 << 20 });

      const protocols = new Map([...xml.matchAll(/<protocol type="(\w+)" version="([\d.]+)" enabled="(\d)"/g)].map((m) => [`${m[1]}${m[2]}`, m[3] === '1']));
      assert.deepEqual(Object.fromEntries(protocols), {
        ssl2: false, ssl3: false, 'tls1.0': false, 'tls1.1': false, 'tls1.2': true, 'tls1.3': true,
      });
      const ciphers = [...xml.matchAll(/<cipher status="(\w+)" sslversion="([\w.]+)"[^>]* cipher="([^"]+)"/g)]
        .map((m) => ({ status: m[1], version: m[2], name: m[3] ?? '' }));
      assert.ok(ciphers.some((c) => c.version === 'TLSv1.3'), 'TLS 1.3 suites found');
      assert.ok(ciphers.some((c) => c.version === 'TLSv1.2'), 'TLS 1.2 suites found');
      for (const c of ciphers) {
        assert.match(c.name, AEAD, `${c.version} ${c.name} is AEAD`);
        assert.doesNotMatch(c.name, WEAK, `${c.version} ${c.name} is not a weak suite`);
        if (c.version === 'TLSv1.2') assert.match(c.name, /^ECDHE-(RSA|ECDSA)-/, `${c.name} uses ECDHE`);
        assert.ok(c.version === 'TLSv1.2' || c.version === 'TLSv1.3', `${c.version} ${c.name}`);
      }
      assert.match(xml, /<renegotiation supported="0"/);
    });
  }
});
