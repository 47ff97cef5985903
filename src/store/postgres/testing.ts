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
