/**
 * The in-memory store (the default): one process, bounded.
 *
 * Rate-limit counters are one number per key (the GCRA TAT). A key whose TAT has passed carries no
 * information — its bucket is full — so dropping it loses nothing; that is what the sweep and the
 * first eviction pass remove. Only when `maxKeys` live keys are held does the least recently used
 * one go (counted, and logged by the caller): a bounded map under an address-spraying attack.
 *
 * Login counters (S6) live apart and are never evicted before their window ends: when `maxLoginKeys`
 * live counters are held, a new one is refused with a StoreError, and the login limiter fails
 * closed rather than forget an attacker's count.
 */
import { gcra } from './gcra.ts';
import { systemClock, type Clock } from './clock.ts';
import { StoreError, type ConsumeItem, type ConsumeResult, type ItemState, type RateLimitStore } from './store.ts';

export interface MemoryStoreOptions {
  readonly maxKeys?: number;
  readonly maxLoginKeys?: number;
  readonly clock?: Clock;
  /** Sweep interval for ended windows (0: no timer; tests sweep by hand). */
  readonly sweepMs?: number;
  /** Called when a live rate-limit key had to be evicted to make room. */
  readonly onEvict?: (key: string) => void;
}

const FIRST_PASS = 32;

export class MemoryStore implements RateLimitStore {
  readonly kind = 'memory';
  maxKeys: number;
  maxLoginKeys: number;
  readonly #clock: Clock;
  readonly #tat = new Map<string, number>();
  readonly #login = new Map<string, { count: number; until: number }>();
  readonly #onEvict: ((key: string) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  evictions = 0;

  constructor(o: MemoryStoreOptions = {}) {
    this.maxKeys = o.maxKeys ?? 100_000;
    this.maxLoginKeys = o.maxLoginKeys ?? 100_000;
    this.#clock = o.clock ?? systemClock;
    this.#onEvict = o.onEvict;
    const every = o.sweepMs ?? 10_000;
    if (every > 0) {
      this.#timer = setInterval(() => this.sweep(), every);
      this.#timer.unref();
    }
  }

  get size(): number {
    return this.#tat.size;
  }

  get loginSize(): number {
    return this.#login.size;
  }

  consume(items: readonly ConsumeItem[], maxWaitMs: number): ConsumeResult {
    const now = this.#clock.now();
    if (items.length === 1) {
      // The common case without intermediate arrays.
      const it = items[0] as ConsumeItem;
      const o = gcra(this.#tat.get(it.key), now, it, maxWaitMs);
      if (!o.allowed) return { allowed: false, waitMs: 0, denied: 0, items: [o] };
      this.#set(it.key, o.tat, now);
      return { allowed: true, waitMs: o.waitMs, denied: -1, items: [o] };
    }
    const outcomes = items.map((it) => gcra(this.#tat.get(it.key), now, it, maxWaitMs));
    const denied = outcomes.findIndex((o) => !o.allowed);
    if (denied !== -1) {
      // Nothing is taken: report what the others would still admit.
      const states: ItemState[] = outcomes.map((o, i) =>
        o.allowed && o.waitMs === 0 ? { ...o, remaining: Math.min((items[i] as ConsumeItem).burst, o.remaining + 1) } : o);
      return { allowed: false, waitMs: 0, denied, items: states };
    }
    let waitMs = 0;
    outcomes.forEach((o, i) => {
      this.#set((items[i] as ConsumeItem).key, o.tat, now);
      if (o.waitMs > waitMs) waitMs = o.waitMs;
    });
    return { allowed: true, waitMs, denied: -1, items: outcomes };
  }

  #set(key: string, tat: number, now: number): void {
    // Under pressure (over half full), re-insertion keeps the map in least-recently-used order for
    // eviction; below that a plain update is cheaper and eviction cannot happen.
    if (this.#tat.size > this.maxKeys >> 1) {
      if (!this.#tat.delete(key) && this.#tat.size >= this.maxKeys) this.#makeRoom(now);
    }
    this.#tat.set(key, tat);
  }

  #makeRoom(now: number): void {
    let seen = 0;
    let freed = 0;
    for (const [k, tat] of this.#tat) {
      if (tat <= now) {
        this.#tat.delete(k);
        freed++;
      }
      if (++seen >= FIRST_PASS) break;
    }
    if (freed > 0) return;
    const oldest = this.#tat.keys().next();
    if (oldest.done) return;
    this.#tat.delete(oldest.value);
    this.evictions++;
    this.#onEvict?.(oldest.value);
  }

  /** Drops keys whose window has ended (full buckets, finished login windows). */
  sweep(): void {
    const now = this.#clock.now();
    for (const [k, tat] of this.#tat) if (tat <= now) this.#tat.delete(k);
    for (const [k, v] of this.#login) if (v.until <= now) this.#login.delete(k);
  }

  async attempt(key: string, windowMs: number): Promise<number> {
    const now = this.#clock.now();
    const cur = this.#login.get(key);
    if (cur && cur.until > now) {
      cur.count++;
      cur.until = now + windowMs; // the window runs from the latest attempt
      return cur.count;
    }
    if (!cur && this.#login.size >= this.maxLoginKeys) {
      for (const [k, v] of this.#login) if (v.until <= now) this.#login.delete(k);
      // S6: never evict a live login counter; refuse instead (the limiter fails closed).
      if (this.#login.size >= this.maxLoginKeys) throw new StoreError(`login counters full (${this.maxLoginKeys} live)`);
    }
    this.#login.set(key, { count: 1, until: now + windowMs });
    return 1;
  }

  async peek(key: string): Promise<number> {
    const cur = this.#login.get(key);
    return cur && cur.until > this.#clock.now() ? cur.count : 0;
  }

  async reset(key: string): Promise<void> {
    this.#login.delete(key);
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
  }
}
