/**
 * Store and accounts benchmark (not a test): `node bench/accounts.ts [--postgres URL] [--quick]`.
 *
 * 1. Store operations the gateway may do per request when its caches miss — users.get,
 *    apiKeys.get, denyList.find, denyList.changedSince (the poll) — and the single-use writes of a
 *    login (advanceTotpStep, oidc consume): µs per operation, median of 5 runs, on SQLite (a file
 *    in a temp directory, WAL, synchronous=FULL) and PostgreSQL (a database of its own on the
 *    given server, dropped at the end) with 100 users, 100 keys, 1,000 deny-list entries.
 * 2. API-key verification end to end (parse, checksum, store lookup, HMAC, timingSafeEqual).
 * 3. Argon2id with the production parameters: ms per hash and per verification (the cost of one
 *    login attempt, paid for unknown users too).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createSqliteStore } from '../src/store/sqlite/index.ts';
import { createPostgresStore } from '../src/store/postgres/index.ts';
import { createTestDatabase } from '../src/store/postgres/testing.ts';
import { sampleUser } from '../src/store/contract.ts';
import type { Store } from '../src/store/types.ts';
import { createKeyring } from '../src/secrets/keyring.ts';
import { createApiKeyService } from '../src/accounts/api-keys.ts';
import { ARGON2_PARAMS, createArgon2Hasher } from '../src/accounts/password-hash.ts';

const { values } = parseArgs({ options: { postgres: { type: 'string' }, quick: { type: 'boolean', default: false } } });
if (values.postgres) process.env.RAMPART_TEST_POSTGRES_URL = values.postgres;
const N = values.quick ? 200 : 2000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function timeIt(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  const runs: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) await fn(i);
    runs.push(Number(process.hrtime.bigint() - t0) / 1e3 / n);
  }
  return median(runs);
}

async function seed(store: Store): Promise<void> {
  await store.migrate();
  for (let i = 0; i < 100; i++) await store.users.create(sampleUser(`user${i}`, { recoveryCodeHashes: Array.from({ length: 10 }, (_, j) => `h${i}-${j}`) }));
  const now = Date.now() / 1000;
  for (let i = 0; i < 1000; i++) await store.denyList.add({ kind: 'grant', value: `g${i}`, notBefore: now, expiresAt: now + 3600, reason: 'bench' });
}

async function storeOps(label: string, store: Store): Promise<Record<string, number>> {
  await seed(store);
  const keyring = createKeyring(randomBytes(32));
  const keys = createApiKeyService({ store, keyring, touchIntervalMs: 3_600_000 });
  const made: Array<{ key: string; record: { id: string } }> = [];
  for (let i = 0; i < 100; i++) made.push(await keys.create({ name: `k${i}`, roles: ['svc'] }));
  for (let i = 0; i < N * 6; i++) await store.oidc.upsert({ model: 'AuthorizationCode', idHash: `c${i}`, payload: { i }, expiresAt: Date.now() / 1000 + 600 });
  const now = Date.now() / 1000;
  let step = 1;
  let code = 0;
  const r = {
    'users.get': await timeIt(N, (i) => store.users.get(`user${i % 100}`)),
    'apiKeys.get': await timeIt(N, (i) => store.apiKeys.get(made[i % 100]!.record.id)),
    'denyList.find': await timeIt(N, (i) => store.denyList.find('grant', `g${i % 1000}`)),
    'denyList.changedSince (nothing new)': await timeIt(N, () => store.denyList.changedSince(now + 60)),
    'users.advanceTotpStep': await timeIt(N, () => store.users.advanceTotpStep('user1', step++)),
    'oidc.consume': await timeIt(N, () => store.oidc.consume('AuthorizationCode', `c${code++}`, now)),
    'API key verify': await timeIt(N, (i) => keys.verify(made[i % 100]!.key, now)),
  };
  await keys.close();
  await store.close();
  console.log(`\n${label}`);
  for (const [k, v] of Object.entries(r)) console.log(`  ${k.padEnd(38)} ${v.toFixed(1).padStart(8)} µs/op`);
  return r;
}

const dir = mkdtempSync(path.join(os.tmpdir(), 'rampart-bench-store-'));
try {
  console.log(`node ${process.versions.node}, ${os.cpus().length} CPU, load ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}; ${N} operations × 5 runs, median`);
  await storeOps('SQLite (file, WAL, synchronous=FULL)', createSqliteStore({ file: path.join(dir, 'rampart.db') }));
  const db = await createTestDatabase();
  if ('skip' in db) console.log(`\nPostgreSQL: skipped (${db.skip})`);
  else {
    try {
      await storeOps(`PostgreSQL (${new URL(db.url).host}, pool of 10)`, createPostgresStore({ url: db.url }));
    } finally {
      await db.drop();
    }
  }
  const hasher = createArgon2Hasher();
  const phc = await hasher.hash('correct horse battery staple');
  const runs = values.quick ? 5 : 21;
  const hashMs: number[] = [];
  const verifyMs: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    await hasher.hash('correct horse battery staple');
    hashMs.push(performance.now() - t0);
    t0 = performance.now();
    await hasher.verify(phc, 'correct horse battery staple');
    verifyMs.push(performance.now() - t0);
  }
  console.log(`\nArgon2id m=${ARGON2_PARAMS.memoryCost} KiB, t=${ARGON2_PARAMS.timeCost}, p=${ARGON2_PARAMS.parallelism} (median of ${runs})`);
  console.log(`  hash                                   ${median(hashMs).toFixed(1).padStart(8)} ms`);
  console.log(`  verify                                 ${median(verifyMs).toFixed(1).padStart(8)} ms`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
