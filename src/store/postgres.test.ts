import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { storeContract, sampleUser } from './contract.ts';
import { createPostgresStore } from './postgres/index.ts';
import { createTestDatabase } from './postgres/testing.ts';
import type { Store } from './types.ts';

const db = await createTestDatabase();

if ('skip' in db) {
  test('store contract: postgres', { skip: db.skip }, () => undefined);
} else {
  after(() => db.drop());
  const schemas = new WeakMap<Store, string>();
  let n = 0;

  storeContract({
    name: 'postgres',
    async open(clock) {
      const schema = `contract_${++n}`;
      const s = createPostgresStore({ url: db.url, schema, now: clock, poolSize: 4 });
      await s.migrate();
      schemas.set(s, schema);
      return s;
    },
    async reopen(store, clock) {
      const s = createPostgresStore({ url: db.url, schema: schemas.get(store) as string, now: clock, poolSize: 4 });
      await s.migrate();
      return s;
    },
  });

  test('postgres: instances starting at once migrate the schema once', async () => {
    const stores = Array.from({ length: 4 }, () => createPostgresStore({ url: db.url, schema: 'concurrent', poolSize: 2 }));
    try {
      await Promise.all(stores.map((s) => s.migrate()));
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      const { rows } = await c.query('SELECT version FROM concurrent.schema_migrations ORDER BY version');
      await c.end();
      assert.deepEqual(rows.map((r) => r.version), [1]);
      await (stores[0] as Store).users.create(sampleUser('alice'));
      assert.equal((await (stores[3] as Store).users.get('alice'))?.id, 'alice');
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  test('postgres: a server that cannot be reached fails closed with RAMPART_STORE_UNAVAILABLE', async () => {
    // Port 1 on loopback: nothing listens there, the connection is refused at once.
    const s = createPostgresStore({ url: 'postgres://postgres@127.0.0.1:1/none', timeoutMs: 1000 });
    await assert.rejects(s.users.get('alice'), { name: 'StoreError', code: 'RAMPART_STORE_UNAVAILABLE' });
    await assert.rejects(s.migrate(), { name: 'StoreError', code: 'RAMPART_STORE_UNAVAILABLE' });
    await s.close();
  });

  test('postgres: a schema name that is not an identifier is refused before any SQL is built', () => {
    assert.throws(() => createPostgresStore({ url: db.url, schema: 'x; DROP TABLE users' }), { code: 'RAMPART_STORE_BAD_INPUT' });
  });
}
