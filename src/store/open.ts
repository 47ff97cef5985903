/**
 * Opens the configured store and migrates it (gateway start, CLI commands), and runs the periodic
 * purge of expired deny-list entries and authorization-server artefacts.
 */
import path from 'node:path';
import type { Logger } from 'pino';
import { resolveSecret } from '../config/secrets.ts';
import type { Store } from './types.ts';
import type { StoreConfig } from './config.ts';
import { StoreError } from './errors.ts';
import { createSqliteStore, SQLITE_FILE } from './sqlite/index.ts';
import { createPostgresStore } from './postgres/index.ts';
import { epochNow, type StoreClock } from './records.ts';

export interface OpenStoreOptions {
  readonly dataDir: string;
  /** The config file's directory: `{ file: PATH }` references resolve from there. */
  readonly baseDir: string;
  readonly logger?: Logger;
  readonly now?: StoreClock;
}

/** The store of `config`, migrated; a store that cannot be opened or migrated is a start-up error (fail closed). */
export async function openStore(config: StoreConfig, options: OpenStoreOptions): Promise<Store> {
  const now = options.now ?? epochNow;
  let store: Store;
  if (config.kind === 'postgres') {
    const pgc = config.postgres;
    if (!pgc) throw new StoreError('RAMPART_STORE_BAD_INPUT', 'store.kind is postgres but store.postgres.url is not set.');
    const url = (await resolveSecret(pgc.url, options.baseDir)).toString('utf8');
    store = createPostgresStore({
      url, schema: pgc.schema, poolSize: pgc.poolSize, timeoutMs: pgc.timeoutMs, now,
      onIdleError: (err) => options.logger?.warn({ err: { message: err.message } }, 'store: an idle PostgreSQL connection failed; the pool replaces it'),
    });
  } else {
    store = createSqliteStore({ file: path.join(options.dataDir, SQLITE_FILE), now });
  }
  try {
    await store.migrate();
  } catch (err) {
    await store.close().catch(() => undefined);
    throw err;
  }
  options.logger?.info({ store: store.kind }, 'store opened');
  return store;
}

/**
 * Purges what has expired every `intervalMs` (default 10 min); the timer never keeps the process
 * alive. Expired rows are already invisible to readers (contract), so this only reclaims space.
 */
export function startStoreMaintenance(store: Store, options: { logger?: Logger; intervalMs?: number; now?: StoreClock } = {}): () => void {
  const now = options.now ?? epochNow;
  const purge = async (): Promise<void> => {
    try {
      const t = now();
      const deny = await store.denyList.purgeExpired(t);
      const oidc = await store.oidc.purgeExpired(t);
      if (deny + oidc > 0) options.logger?.debug({ deny, oidc }, 'store: expired entries purged');
    } catch (err) {
      if ((err as StoreError).code !== 'RAMPART_STORE_CLOSED') options.logger?.warn({ err: { message: (err as Error).message } }, 'store: purge failed; retried later');
    }
  };
  const timer = setInterval(() => void purge(), options.intervalMs ?? 600_000);
  timer.unref();
  return () => clearInterval(timer);
}
