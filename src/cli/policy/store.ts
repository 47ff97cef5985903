/**
 * The store, read-only, for `rampart policy`: the roles of users' and clients' records and API
 * keys (what the gateway adds to config bindings), and role counts for the access review. Opened
 * once, on first need, without migrating and without creating anything: a SQLite file that does
 * not exist, a PostgreSQL server that does not answer or a secret that cannot be resolved make the
 * store "unreachable" (with the reason), and the commands go on with config bindings only.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../../config/load.ts';
import { resolveSecret } from '../../config/secrets.ts';
import { createSqliteStore, SQLITE_FILE } from '../../store/sqlite/index.ts';
import { createPostgresStore } from '../../store/postgres/index.ts';
import type { Store } from '../../store/types.ts';

export type StoreStatus = { readonly ok: true; readonly where: string } | { readonly ok: false; readonly reason: string };

export class ReadOnlyStore {
  readonly #loaded: LoadedConfig;
  #store: Store | undefined;
  #status: StoreStatus | undefined;

  constructor(loaded: LoadedConfig) {
    this.#loaded = loaded;
  }

  /** Undefined until the store was first asked for. */
  get status(): StoreStatus | undefined {
    return this.#status;
  }

  /** Runs `read` against the store; undefined when it cannot be opened or read (the status says why). */
  async read<T>(read: (store: Store) => Promise<T>): Promise<T | undefined> {
    const store = await this.#open();
    if (!store) return undefined;
    try {
      return await read(store);
    } catch (err) {
      this.#status = { ok: false, reason: `cannot be read: ${(err as Error).message}` };
      await this.close();
      return undefined;
    }
  }

  async close(): Promise<void> {
    const s = this.#store;
    this.#store = undefined;
    await s?.close().catch(() => undefined);
  }

  async #open(): Promise<Store | undefined> {
    if (this.#store) return this.#store;
    if (this.#status) return undefined;
    const root = this.#loaded.config;
    try {
      if (root.store.kind === 'postgres') {
        const pg = root.store.postgres;
        if (!pg) throw new Error('store.postgres.url is not set');
        const url = (await resolveSecret(pg.url, this.#loaded.baseDir)).toString('utf8');
        this.#store = createPostgresStore({ url, schema: pg.schema, poolSize: 1, timeoutMs: pg.timeoutMs });
        this.#status = { ok: true, where: `PostgreSQL (schema ${pg.schema})` };
      } else {
        const file = path.join(path.resolve(process.env.RAMPART_DATA_DIR || root.dataDir), SQLITE_FILE);
        // Never create a database here: a missing file means nobody has stored anything yet.
        if (!existsSync(file)) {
          this.#status = { ok: false, reason: `no database at ${file}` };
          return undefined;
        }
        this.#store = createSqliteStore({ file });
        this.#status = { ok: true, where: file };
      }
      return this.#store;
    } catch (err) {
      this.#status = { ok: false, reason: (err as Error).message };
      return undefined;
    }
  }
}

export function describeStore(status: StoreStatus | undefined): string {
  if (!status) return 'not consulted';
  return status.ok ? `read from ${status.where}` : `unreachable (${status.reason}): config bindings only`;
}
