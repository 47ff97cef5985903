/**
 * Users' and clients' records of the built-in issuer, read from the store for every request
 * through a short cache (`authentication.accountCacheSeconds`, default 5 s, bounded in size): roles
 * bound in the store and the `disabled` flag take effect within that time, without a store round
 * trip per request. A store that cannot be read makes the lookup throw: the stage fails closed.
 */
import type { Store } from '../../store/types.ts';

export interface AccountFacts {
  readonly roles: readonly string[];
  readonly disabled: boolean;
}

interface Cached {
  readonly facts: AccountFacts | undefined;
  readonly at: number;
}

export class AccountDirectory {
  readonly #store: Pick<Store, 'users' | 'clients'>;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, Cached>();
  readonly #inflight = new Map<string, Promise<AccountFacts | undefined>>();

  constructor(store: Pick<Store, 'users' | 'clients'>, options: { ttlSeconds: number; maxEntries?: number; now?: () => number }) {
    this.#store = store;
    this.#ttlMs = options.ttlSeconds * 1000;
    this.#max = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** The record's facts, undefined when there is no such user or client. Throws when the store fails. */
  lookup(kind: 'user' | 'client', id: string): AccountFacts | undefined | Promise<AccountFacts | undefined> {
    const key = `${kind}\u0000${id}`;
    const hit = this.#cache.get(key);
    if (hit && this.#now() - hit.at < this.#ttlMs) return hit.facts;
    let p = this.#inflight.get(key);
    if (!p) {
      p = this.#read(kind, id)
        .then((facts) => {
          if (this.#ttlMs > 0) {
            this.#cache.delete(key);
            if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value as string);
            this.#cache.set(key, { facts, at: this.#now() });
          }
          return facts;
        })
        .finally(() => this.#inflight.delete(key));
      this.#inflight.set(key, p);
    }
    return p;
  }

  async #read(kind: 'user' | 'client', id: string): Promise<AccountFacts | undefined> {
    const r = kind === 'user' ? await this.#store.users.get(id) : await this.#store.clients.get(id);
    return r ? { roles: [...r.roles], disabled: r.disabled } : undefined;
  }
}
