/**
 * The embedded store: one SQLite file, `<dataDir>/rampart.db` (node:sqlite, synchronous). Each
 * statement is synchronous, so in one process nothing interleaves with it; a transaction spans
 * awaits, so other calls wait for it (serialised below). Across processes (the gateway and the CLI
 * share the file) SQLite's own locking applies: WAL journal, BEGIN IMMEDIATE for writers that read
 * first, and a busy timeout.
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Store } from '../types.ts';
import { StoreError } from '../errors.ts';
import { epochNow, type StoreClock } from '../records.ts';
import { asStoreError, createSqlStore } from '../sql/store.ts';
import type { Dialect, Row, SqlDb, SqlRunner, SqlValue } from '../sql/db.ts';

export const SQLITE_FILE = 'rampart.db';

export interface SqliteStoreOptions {
  /** The database file; `:memory:` for a private in-memory database. */
  readonly file: string;
  readonly now?: StoreClock;
  /** How long a writer waits for another process's lock (default 5000 ms). */
  readonly busyTimeoutMs?: number;
}

const DIALECT: Dialect = {
  name: 'sqlite',
  forUpdate: '',
  recoveryCodesJson: '(SELECT json_group_array(code_hash) FROM (SELECT code_hash FROM recovery_codes r WHERE r.user_id = u.id ORDER BY r.position))',
  payloadAccountId: "json_extract(payload, '$.accountId')",
  types: { real: 'REAL', bool: 'INTEGER', bigint: 'INTEGER', serialKey: 'INTEGER PRIMARY KEY AUTOINCREMENT' },
};

const SQLITE_CONSTRAINT = 19;

class SqliteDb implements SqlDb {
  readonly dialect = DIALECT;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  #closed = false;
  /** Settles when the running transaction ends; undefined when none runs. */
  #tx: Promise<unknown> | undefined;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(file: string, busyTimeoutMs: number) {
    try {
      this.#db = new DatabaseSync(file, { timeout: busyTimeoutMs, enableForeignKeyConstraints: true });
      if (file !== ':memory:') this.#db.exec('PRAGMA journal_mode = WAL');
      // FULL: a revocation or a used TOTP step that was acknowledged survives a power cut.
      this.#db.exec('PRAGMA synchronous = FULL');
    } catch (err) {
      throw new StoreError('RAMPART_STORE_UNAVAILABLE', `Cannot open the SQLite database ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  #statement(sql: string): StatementSync {
    if (this.#closed) throw new StoreError('RAMPART_STORE_CLOSED', 'The store is closed.');
    let s = this.#statements.get(sql);
    if (!s) {
      s = this.#db.prepare(sql);
      this.#statements.set(sql, s);
    }
    return s;
  }

  #exec<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      const code = (err as { errcode?: number }).errcode;
      throw asStoreError(err, code !== undefined && (code & 0xff) === SQLITE_CONSTRAINT);
    }
  }

  #allNow(sql: string, params: readonly SqlValue[] = []): Row[] {
    return this.#exec(() => this.#statement(sql).all(...params.map(bind)) as Row[]);
  }

  #runNow(sql: string, params: readonly SqlValue[] = []): number {
    return this.#exec(() => Number(this.#statement(sql).run(...params.map(bind)).changes));
  }

  async #outsideTransactions(): Promise<void> {
    while (this.#tx) await this.#tx.catch(() => undefined);
  }

  async all(sql: string, params?: readonly SqlValue[]): Promise<Row[]> {
    await this.#outsideTransactions();
    return this.#allNow(sql, params);
  }

  async run(sql: string, params?: readonly SqlValue[]): Promise<number> {
    await this.#outsideTransactions();
    return this.#runNow(sql, params);
  }

  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T> {
    const result = this.#queue.catch(() => undefined).then(async () => {
      await this.#outsideTransactions();
      const runner: SqlRunner = {
        all: async (sql, params) => this.#allNow(sql, params),
        run: async (sql, params) => this.#runNow(sql, params),
      };
      const body = (async () => {
        this.#runNow('BEGIN IMMEDIATE');
        try {
          const value = await fn(runner);
          this.#runNow('COMMIT');
          return value;
        } catch (err) {
          if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
          throw err;
        }
      })();
      this.#tx = body;
      try {
        return await body;
      } finally {
        this.#tx = undefined;
      }
    });
    this.#queue = result;
    return result;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await this.#queue.catch(() => undefined);
    await this.#outsideTransactions();
    this.#closed = true;
    this.#statements.clear();
    this.#db.close();
  }
}

/** node:sqlite binds numbers, strings, null and bigints; booleans are stored as 0/1. */
function bind(v: SqlValue): string | number | null {
  return typeof v === 'boolean' ? (v ? 1 : 0) : v;
}

/** Opens (creating it 0600 in a 0700 directory when missing) a SQLite store; call migrate() next. */
export function createSqliteStore(options: SqliteStoreOptions): Store {
  if (options.file !== ':memory:') {
    mkdirSync(path.dirname(options.file), { recursive: true, mode: 0o700 });
    // The file holds password hashes and sealed secrets: readable by its owner only. SQLite creates
    // its -wal and -shm files with the database file's permissions.
    closeSync(openSync(options.file, 'a', 0o600));
    // A file made by hand (or by an older version) with wider permissions is tightened.
    if (process.platform !== 'win32' && (statSync(options.file).mode & 0o077) !== 0) chmodSync(options.file, 0o600);
  }
  return createSqlStore(new SqliteDb(options.file, options.busyTimeoutMs ?? 5000), options.now ?? epochNow);
}
