/**
 * Tests against a real PostgreSQL (DESIGN.md: real components in tests): a database of its own per
 * test run, dropped afterwards. The server is RAMPART_TEST_POSTGRES_URL, default
 * postgres://postgres@127.0.0.1:5432/postgres (trust auth, as .ci/run sets up). Locally a missing
 * server skips the tests with a reason; under CI=true it fails them.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_POSTGRES_URL = process.env.RAMPART_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** URL of the new, empty database. */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

/** Creates `rampart_test_<random>`; resolves with a skip reason instead when no server answers (outside CI). */
export async function createTestDatabase(): Promise<TestDatabase | { skip: string }> {
  const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    const reason = `PostgreSQL not reachable at ${TEST_POSTGRES_URL} (${(err as Error).message}); .ci/run starts it`;
    if (process.env.CI === 'true') throw new Error(reason, { cause: err });
    return { skip: reason };
  }
  const name = `rampart_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  try {
    await dropLeftovers(admin);
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_POSTGRES_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: TEST_POSTGRES_URL, connectionTimeoutMillis: 3000 });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}

/** Databases of test processes that died before dropping theirs (the name carries the pid). */
async function dropLeftovers(admin: pg.Client): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>("SELECT datname FROM pg_database WHERE datname LIKE 'rampart\\_test\\_%'");
  for (const { datname } of rows) {
    const m = /^rampart_test_(\d+)_[0-9a-f]{8}$/.exec(datname);
    if (!m || alive(Number(m[1]))) continue;
    await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
