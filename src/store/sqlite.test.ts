import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { storeContract, sampleUser } from './contract.ts';
import { createSqliteStore, SQLITE_FILE } from './sqlite/index.ts';
import type { Store } from './types.ts';

const dir = await mkdtemp(path.join(os.tmpdir(), 'rampart-sqlite-'));
after(() => rm(dir, { recursive: true, force: true }));
const files = new WeakMap<Store, string>();
let n = 0;

storeContract({
  name: 'sqlite',
  async open(clock) {
    const file = path.join(dir, `t${++n}`, SQLITE_FILE);
    const s = createSqliteStore({ file, now: clock });
    await s.migrate();
    files.set(s, file);
    return s;
  },
  async reopen(store, clock) {
    const s = createSqliteStore({ file: files.get(store) as string, now: clock });
    await s.migrate();
    return s;
  },
});

test('sqlite: the database file is created 0600 in a 0700 directory, in WAL mode', async () => {
  const file = path.join(dir, 'perm', 'data', SQLITE_FILE);
  const s = createSqliteStore({ file });
  await s.migrate();
  await s.users.create(sampleUser('alice'));
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  assert.equal((await stat(path.dirname(file))).mode & 0o777, 0o700);
  await s.close();
  const db = new DatabaseSync(file, { readOnly: true });
  assert.equal((db.prepare('PRAGMA journal_mode').get() as { journal_mode: string }).journal_mode, 'wal');
  db.close();
});

test('sqlite: a database migrated by a newer Rampart is refused', async () => {
  const file = path.join(dir, 'newer', SQLITE_FILE);
  const s = createSqliteStore({ file });
  await s.migrate();
  await s.close();
  const db = new DatabaseSync(file);
  db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)').run();
  db.close();
  const again = createSqliteStore({ file });
  await assert.rejects(again.migrate(), { code: 'RAMPART_STORE_SCHEMA_TOO_NEW' });
  await again.close();
});

test('sqlite: a failed transaction leaves nothing behind and the store keeps working', async () => {
  const s = createSqliteStore({ file: path.join(dir, 'rollback', SQLITE_FILE) });
  await s.migrate();
  await s.users.create(sampleUser('alice'));
  // The user row is inserted, then its recovery codes; a conflict on the id rolls both back.
  await assert.rejects(s.users.create(sampleUser('alice', { username: 'other', recoveryCodeHashes: ['x'] })), { code: 'RAMPART_STORE_CONFLICT' });
  assert.equal(await s.users.getByUsername('other'), undefined);
  assert.deepEqual((await s.users.get('alice'))?.recoveryCodeHashes, []);
  await s.close();
});

test('sqlite: a file that is not a database is reported as unavailable, not a crash', async () => {
  const file = path.join(dir, 'garbage.db');
  await (await import('node:fs/promises')).writeFile(file, 'not a database at all, just text '.repeat(200), { mode: 0o600 });
  assert.throws(() => createSqliteStore({ file }), { name: 'StoreError', code: 'RAMPART_STORE_UNAVAILABLE' });
});

test('sqlite: an existing database file readable by others is tightened to 0600 when opened', async () => {
  const { writeFile, chmod } = await import('node:fs/promises');
  const file = path.join(dir, 'wide.db');
  await writeFile(file, '');
  await chmod(file, 0o644);
  const s = createSqliteStore({ file });
  await s.migrate();
  await s.close();
  assert.equal((await stat(file)).mode & 0o777, 0o600);
});
