/**
 * The cluster store: PostgreSQL through a `pg` pool, shared by every gateway instance. Same SQL
 * as SQLite (src/store/sql/store.ts); `?` placeholders are numbered here. Every query has a
 * timeout so that a stuck database fails closed (RAMPART_STORE_UNAVAILABLE) instead of holding
 * requests; concurrent starts migrate once (advisory lock).
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Store } from '../types.ts';
import { StoreError } from '../errors.ts';
import { epochNow, type StoreClock } from '../records.ts';
import { asStoreError, createSqlStore } from '../sql/store.ts';
import type { Dialect, Row, SqlDb, SqlRunner, SqlValue } from '../sql/db.ts';

export interface PostgresStoreOptions {
  /** `postgres://user:password@host:port/database?sslmode=…` (from a secret reference). */
  readonly url: string;
  /** The schema Rampart's tables live in (created by migrate); default `public`. */
  readonly schema?: string;
  /** Connections in the pool (default 10). */
  readonly poolSize?: number;
  /** Connect and statement timeout (default 5000 ms). */
  readonly timeoutMs?: number;
  readonly now?: StoreClock;
  /** Errors of idle connections (the pool replaces them); default: ignored. */
  readonly onIdleError?: (err: Error) => void;
}

export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

const DIALECT: Dialect = {
  name: 'postgres',
  forUpdate: ' FOR UPDATE OF u',
  recoveryCodesJson: "(SELECT COALESCE(json_agg(r.code_hash ORDER BY r.position), '[]'::json)::text FROM recovery_codes r WHERE r.user_id = u.id)",
  payloadAccountId: "(payload::jsonb ->> 'accountId')",
  types: { real: 'double precision', bool: 'boolean', bigint: 'bigint', serialKey: 'bigserial PRIMARY KEY' },
};

const PREPARABLE = /^\s*(SELECT|INSERT|UPDATE|DELETE)\b/i;

/** PostgreSQL SQLSTATE 23505 unique_violation (Appendix A of its manual). */
const UNIQUE_VIOLATION = '23505';

function numbered(sql: string): string {
  let i = 0;
  return sql.replace(/\?/g, () => `$${++i}`);
}

class PostgresDb implements SqlDb {
  readonly dialect = DIALECT;
  readonly #pool: pg.Pool;
  readonly #schema: string;
  #closed = false;

  constructor(options: PostgresStoreOptions) {
    const schema = options.schema ?? 'public';
    if (!SCHEMA_NAME.test(schema)) throw new StoreError('RAMPART_STORE_BAD_INPUT', 'The PostgreSQL schema must be a lower-case identifier.');
    this.#schema = schema;
    const timeout = options.timeoutMs ?? 5000;
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: timeout,
      statement_timeout: timeout,
      query_timeout: timeout + 1000,
      idleTimeoutMillis: 30_000,
      application_name: 'rampart',
      // The identifier is checked above (SCHEMA_NAME), so it needs no quoting.
      options: `-c search_path=${schema}`,
    });
    // Without a listener, an idle connection dropped by the server would crash the process.
    this.#pool.on('error', (err) => options.onIdleError?.(err));
  }

  #check(): void {
    if (this.#closed) throw new StoreError('RAMPART_STORE_CLOSED', 'The store is closed.');
  }

  async #query(client: pg.Pool | pg.PoolClient, sql: string, params: readonly SqlValue[] = []): Promise<pg.QueryResult> {
    this.#check();
    try {
      // Data statements are named, so each connection parses and plans them once (server-side
      // prepared statements); DDL and transaction control go unnamed.
      const text = numbered(sql);
      const name = PREPARABLE.test(text) ? `r_${createHash('sha256').update(text).digest('base64url').slice(0, 20)}` : undefined;
      return await client.query(name ? { name, text, values: params as SqlValue[] } : { text, values: params as SqlValue[] });
    } catch (err) {
      throw asStoreError(err, (err as { code?: string }).code === UNIQUE_VIOLATION);
    }
  }

  async all(sql: string, params?: readonly SqlValue[]): Promise<Row[]> {
    return (await this.#query(this.#pool, sql, params)).rows as Row[];
  }

  async run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    return (await this.#query(this.#pool, sql, params)).rowCount ?? 0;
  }

  async transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    this.#check();
    let client: pg.PoolClient;
    try {
      client = await this.#pool.connect();
    } catch (err) {
      throw asStoreError(err, false);
    }
    let broken: Error | undefined;
    try {
      await this.#query(client, 'BEGIN');
      const value = await fn({
        all: async (sql, params) => (await this.#query(client, sql, params)).rows as Row[],
        run: async (sql, params) => (await this.#query(client, sql, params)).rowCount ?? 0,
      });
      await this.#query(client, 'COMMIT');
      return value;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackError) {
        broken = rollbackError as Error;
      }
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async prepareMigration(tx: SqlRunner): Promise<void> {
    // One migrator at a time per schema, across every instance starting now; released at COMMIT.
    await tx.all('SELECT pg_advisory_xact_lock(hashtext(?))', [`rampart-migrate:${this.#schema}`]);
    await tx.run(`CREATE SCHEMA IF NOT EXISTS ${this.#schema}`);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.end();
  }
}

/** A PostgreSQL store (no connection is made until the first call); call migrate() next. */
export function createPostgresStore(options: PostgresStoreOptions): Store {
  return createSqlStore(new PostgresDb(options), options.now ?? epochNow);
}
