/**
 * The small SQL surface the shared store implementation (store.ts) needs, implemented by the
 * SQLite adapter (node:sqlite, synchronous, serialised here) and the PostgreSQL adapter (pg pool).
 * SQL is written once with `?` placeholders; the PostgreSQL adapter numbers them.
 */
export type SqlValue = string | number | boolean | null;
export type Row = Record<string, unknown>;

export interface SqlRunner {
  /** Rows of a SELECT (or of a statement with RETURNING). */
  all(sql: string, params?: readonly SqlValue[]): Promise<Row[]>;
  /** Runs a statement; resolves with the number of rows it changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
}

export interface SqlDb extends SqlRunner {
  readonly dialect: Dialect;
  /**
   * Runs `fn` in one transaction that holds the write lock from its start (SQLite: BEGIN
   * IMMEDIATE; PostgreSQL: a dedicated connection, rows locked with FOR UPDATE where read).
   */
  transaction<T>(fn: (tx: SqlRunner) => Promise<T>): Promise<T>;
  /** Runs first in the migration transaction (PostgreSQL: the schema and an advisory lock against concurrent starts). */
  prepareMigration?(tx: SqlRunner): Promise<void>;
  close(): Promise<void>;
}

export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** Appended to a SELECT inside a transaction that will update what it read. */
  readonly forUpdate: string;
  /** An expression yielding a user's recovery code hashes as a JSON array text (alias `u` for users). */
  readonly recoveryCodesJson: string;
  /** An expression yielding the `accountId` string of an OIDC artefact's JSON payload (column `payload`). */
  readonly payloadAccountId: string;
  /** Column types for the migrations. */
  readonly types: { readonly real: string; readonly bool: string; readonly bigint: string; readonly serialKey: string };
}
