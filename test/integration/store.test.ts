/**
 * The store through the real gateway: opened and migrated at start (SQLite by default, PostgreSQL
 * when configured), given to stages, closed at shutdown; a store change needs a restart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { captureLogger, startTestGateway } from '../helpers/gateway.ts';
import { createTestDatabase } from '../../src/store/postgres/testing.ts';
import { sampleUser } from '../../src/store/contract.ts';
import { Gateway } from '../../src/core/gateway.ts';
import type { Stage, StageModule } from '../../src/core/stage.ts';
import type { Store } from '../../src/store/types.ts';
import { STAGES } from '../../src/stages/index.ts';

const base = (store = '') => `
listeners:
  - name: public
    port: 0
    protocol: https
    tls: { dev: true }
${store}
routes: []
`;

test('gateway: the default store is SQLite at <dataDir>/rampart.db, migrated, readable by its owner only, closed at shutdown', async () => {
  const t = await startTestGateway(base());
  const store = t.gw.store;
  try {
    assert.equal(store.kind, 'sqlite');
    const file = path.join(t.gw.dataDir, 'rampart.db');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    await store.users.create(sampleUser('alice'));
    assert.equal((await store.users.get('alice'))?.id, 'alice');
  } finally {
    await t.close();
  }
  await assert.rejects(store.users.get('alice'), { code: 'RAMPART_STORE_CLOSED' });
});

test('gateway: a reload that changes the store section is refused, the old config keeps serving', async () => {
  const t = await startTestGateway(base());
  try {
    await t.rewrite(base('store:\n  kind: postgres\n  postgres: { url: { env: RAMPART_TEST_NOT_SET } }'));
    const r = await t.gw.reload();
    assert.equal(r.ok, false);
    assert.match(r.problems[0]?.message ?? '', /restart the gateway to change the store/);
    assert.equal(t.gw.store.kind, 'sqlite');
  } finally {
    await t.close();
  }
});

test('gateway: stages get the store and the keyring in their CompileEnv', async () => {
  let seen: { store?: Store; pepperKid?: string } = {};
  const probe: StageModule = {
    name: 'authn', schema: { type: 'object', additionalProperties: false, properties: {} }, defaults: {},
    compile(_config, env): Stage {
      seen = { ...(env.store ? { store: env.store } : {}), ...(env.keyring ? { pepperKid: env.keyring.currentKid('api-key-pepper') } : {}) };
      return { name: 'authn', mode: 'enforce' } as Stage;
    },
  };
  const tmp = await mkdtemp(path.join(os.tmpdir(), 'rampart-store-'));
  const configFile = path.join(tmp, 'rampart.yaml');
  await writeFile(configFile, base().replace('routes: []', 'upstreams:\n  - { id: u, targets: [{ url: "http://127.0.0.1:1" }] }\nroutes:\n  - { id: r, path: /r, upstream: u }'));
  const stages = [...STAGES.filter((s) => s.name !== 'authn'), probe];
  const gw = await Gateway.start({ configFile, watch: false, dataDir: path.join(tmp, '.rampart'), stages, logger: captureLogger().logger });
  try {
    assert.equal(seen.store, gw.store);
    assert.ok(seen.pepperKid, 'the keyring is there');
  } finally {
    await gw.close(100);
    await rm(tmp, { recursive: true, force: true });
  }
});

test('gateway: a PostgreSQL store that cannot be reached stops the start (fail closed)', async () => {
  process.env.RAMPART_TEST_PG_DOWN = 'postgres://postgres@127.0.0.1:1/none';
  await assert.rejects(startTestGateway(base('store:\n  kind: postgres\n  postgres: { url: { env: RAMPART_TEST_PG_DOWN }, timeoutMs: 1000 }')), { code: 'RAMPART_STORE_UNAVAILABLE' });
});

test('gateway: store kind postgres uses the configured database and schema', async (t) => {
  const db = await createTestDatabase();
  if ('skip' in db) return t.skip(db.skip);
  process.env.RAMPART_TEST_PG_URL = db.url;
  const g = await startTestGateway(base('store:\n  kind: postgres\n  postgres: { url: { env: RAMPART_TEST_PG_URL }, schema: rampart_gw }'));
  try {
    assert.equal(g.gw.store.kind, 'postgres');
    await g.gw.store.users.create(sampleUser('alice'));
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const { rows } = await c.query('SELECT id FROM rampart_gw.users');
    await c.end();
    assert.deepEqual(rows, [{ id: 'alice' }]);
  } finally {
    await g.close();
    await db.drop();
  }
});
