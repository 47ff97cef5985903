import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadMasterKey, parseMasterKey } from './master-key.ts';
import { SecretsError } from './errors.ts';

async function tempDir(t: { after(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'rampart-mk-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const code = (c: string) => (e: unknown) => e instanceof SecretsError && e.code === c;

describe('parseMasterKey', () => {
  const key = randomBytes(32);

  it('accepts base64, base64url, hex, with surrounding or wrapping whitespace', () => {
    assert.deepEqual(parseMasterKey(key.toString('base64'), 'x'), key);
    assert.deepEqual(parseMasterKey(key.toString('base64url'), 'x'), key);
    assert.deepEqual(parseMasterKey(key.toString('hex').toUpperCase(), 'x'), key);
    assert.deepEqual(parseMasterKey(Buffer.from(`  ${key.toString('base64')}\n`), 'x'), key);
    const long = randomBytes(64).toString('base64');
    assert.equal(parseMasterKey(`${long.slice(0, 64)}\n${long.slice(64)}\n`, 'x').length, 64);
  });

  it('refuses short, empty, non-encoded and placeholder values without echoing them', () => {
    assert.throws(() => parseMasterKey(randomBytes(31).toString('base64'), 'env RAMPART_KEY'), (e: unknown) => {
      assert.ok(e instanceof SecretsError);
      assert.equal(e.code, 'RAMPART_SECRETS_MASTER_KEY_INVALID');
      assert.match(e.message, /env RAMPART_KEY.*31 bytes/);
      return true;
    });
    assert.throws(() => parseMasterKey('', 'x'), code('RAMPART_SECRETS_MASTER_KEY_INVALID'));
    const secretish = 'correct horse battery staple, this is not a key!';
    assert.throws(() => parseMasterKey(secretish, 'x'), (e: unknown) => {
      assert.ok(e instanceof SecretsError && !e.message.includes(secretish));
      return true;
    });
    assert.throws(() => parseMasterKey('00'.repeat(32), 'x'), /all its bytes are equal/);
    assert.throws(() => parseMasterKey(randomBytes(600).toString('base64'), 'x'), /more than 512/);
  });
});

describe('loadMasterKey', () => {
  it('uses the configured value, in dev mode too', async (t) => {
    const dir = await tempDir(t);
    const key = randomBytes(32);
    assert.deepEqual(await loadMasterKey({ dataDir: dir, dev: false, value: key.toString('hex') }), key);
    assert.deepEqual(await loadMasterKey({ dataDir: dir, dev: true, value: key.toString('base64') }), key);
    await assert.rejects(stat(join(dir, 'master.key')), { code: 'ENOENT' });
  });

  it('refuses to start without a value outside dev mode', async (t) => {
    const dir = await tempDir(t);
    await assert.rejects(loadMasterKey({ dataDir: dir, dev: false }), (e: unknown) => {
      assert.ok(e instanceof SecretsError);
      assert.equal(e.code, 'RAMPART_SECRETS_MASTER_KEY_MISSING');
      assert.match(e.message, /masterKey: \{ env: NAME \}/);
      return true;
    });
  });

  it('generates <dataDir>/master.key once in dev mode (0600, dir 0700) and reuses it', async (t) => {
    const parent = await tempDir(t);
    const dataDir = join(parent, '.rampart');
    const first = await loadMasterKey({ dataDir, dev: true });
    assert.equal(first.length, 32);
    const path = join(dataDir, 'master.key');
    if (process.platform !== 'win32') {
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await stat(dataDir)).mode & 0o777, 0o700);
    }
    assert.deepEqual(await loadMasterKey({ dataDir, dev: true }), first);
    assert.equal((await readFile(path, 'utf8')).trim(), first.toString('base64'));
  });

  it('agrees on one key when several starts race', async (t) => {
    const dataDir = await tempDir(t);
    const keys = await Promise.all(Array.from({ length: 8 }, () => loadMasterKey({ dataDir, dev: true })));
    for (const k of keys) assert.deepEqual(k, keys[0]);
  });

  it('refuses a dev key file that others can read, or that is corrupt', { skip: process.platform === 'win32' }, async (t) => {
    const dataDir = await tempDir(t);
    await loadMasterKey({ dataDir, dev: true });
    const path = join(dataDir, 'master.key');
    await chmod(path, 0o644);
    await assert.rejects(loadMasterKey({ dataDir, dev: true }), /chmod 600/);
    await writeFile(path, 'garbage', { mode: 0o600 });
    await chmod(path, 0o600);
    await assert.rejects(loadMasterKey({ dataDir, dev: true }), code('RAMPART_SECRETS_MASTER_KEY_INVALID'));
  });
});
