/**
 * The schema, as numbered migrations shared by SQLite and PostgreSQL (column types from the
 * dialect). A migration is never edited once released: add the next one. `migrate()` applies the
 * missing ones in one transaction and refuses a database migrated by a newer Rampart.
 */
import { StoreError } from '../errors.ts';
import type { Dialect, SqlRunner } from './db.ts';

type Migration = (t: Dialect['types']) => readonly string[];

export const MIGRATIONS: readonly Migration[] = [
  // 1: accounts, clients, API keys, deny-list, authorization-server artefacts, audit trail.
  (t) => [
    `CREATE TABLE users (
      id TEXT PRIMARY KEY,
      username TEXT NOT NULL UNIQUE,
      display_name TEXT,
      email TEXT,
      password_hash TEXT NOT NULL,
      must_change_password ${t.bool} NOT NULL,
      roles TEXT NOT NULL,
      totp_secret_sealed TEXT,
      totp_last_step ${t.bigint},
      disabled ${t.bool} NOT NULL,
      created_at ${t.real} NOT NULL,
      updated_at ${t.real} NOT NULL)`,
    // One row per unused code, so that using one is a single DELETE (atomic, single use).
    `CREATE TABLE recovery_codes (
      user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
      code_hash TEXT NOT NULL,
      position INTEGER NOT NULL,
      PRIMARY KEY (user_id, code_hash))`,
    `CREATE TABLE clients (
      client_id TEXT PRIMARY KEY,
      metadata TEXT NOT NULL,
      secret_hash TEXT,
      secret_sealed TEXT,
      roles TEXT NOT NULL,
      disabled ${t.bool} NOT NULL,
      created_at ${t.real} NOT NULL)`,
    `CREATE TABLE api_keys (
      id TEXT PRIMARY KEY,
      name TEXT NOT NULL,
      secret_mac TEXT NOT NULL,
      pepper_kid TEXT NOT NULL,
      roles TEXT NOT NULL,
      scopes TEXT NOT NULL,
      expires_at ${t.real},
      revoked_at ${t.real},
      last_used_at ${t.real},
      created_at ${t.real} NOT NULL)`,
    `CREATE TABLE deny_list (
      kind TEXT NOT NULL,
      value TEXT NOT NULL,
      not_before ${t.real} NOT NULL,
      expires_at ${t.real} NOT NULL,
      reason TEXT NOT NULL,
      changed_at ${t.real} NOT NULL,
      PRIMARY KEY (kind, value))`,
    'CREATE INDEX deny_list_changed_at ON deny_list (changed_at)',
    `CREATE TABLE oidc_artefacts (
      model TEXT NOT NULL,
      id_hash TEXT NOT NULL,
      payload TEXT NOT NULL,
      grant_id TEXT,
      user_code_hash TEXT,
      uid TEXT,
      expires_at ${t.real} NOT NULL,
      consumed_at ${t.real},
      PRIMARY KEY (model, id_hash))`,
    'CREATE INDEX oidc_artefacts_grant ON oidc_artefacts (grant_id) WHERE grant_id IS NOT NULL',
    'CREATE INDEX oidc_artefacts_uid ON oidc_artefacts (model, uid) WHERE uid IS NOT NULL',
    'CREATE INDEX oidc_artefacts_user_code ON oidc_artefacts (model, user_code_hash) WHERE user_code_hash IS NOT NULL',
    'CREATE INDEX oidc_artefacts_expires ON oidc_artefacts (expires_at)',
    `CREATE TABLE audit (
      seq ${t.serialKey},
      at ${t.real} NOT NULL,
      actor TEXT NOT NULL,
      action TEXT NOT NULL,
      target TEXT,
      detail TEXT)`,
    'CREATE INDEX audit_at ON audit (at, seq)',
  ],
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Applies the missing migrations; the caller runs this inside a transaction holding the write lock. */
export async function applyMigrations(tx: SqlRunner, dialect: Dialect, now: number): Promise<number> {
  await tx.run(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at ${dialect.types.real} NOT NULL)`);
  const [row] = await tx.all('SELECT MAX(version) AS v FROM schema_migrations');
  const current = Number(row?.v ?? 0);
  if (current > SCHEMA_VERSION) {
    throw new StoreError('RAMPART_STORE_SCHEMA_TOO_NEW', `The database has schema version ${current}; this Rampart knows up to ${SCHEMA_VERSION}. Upgrade Rampart.`);
  }
  for (let v = current + 1; v <= SCHEMA_VERSION; v++) {
    for (const sql of (MIGRATIONS[v - 1] as Migration)(dialect.types)) await tx.run(sql);
    await tx.run('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)', [v, now]);
  }
  return SCHEMA_VERSION - current;
}
