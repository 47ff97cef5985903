/**
 * Login abuse limits (S6): failures counted per username + IP and per IP, a soft lockout that
 * grows (a delay that doubles with every further failure) rather than a hard lock, so that
 * nobody can lock `admin` out from elsewhere, and the same for unknown usernames so that nothing
 * tells which exist.
 *
 * The rate-limit issue builds the shared limiter (src/ratelimit, Redis in cluster mode); this is the
 * interface the login pages call and its in-process implementation. An attempt is counted when it
 * starts (not when it fails), so parallel guesses cannot overtake the budget; success forgives it.
 */
import { createHash } from 'node:crypto';

export interface LoginLimiter {
  /** Reserves one attempt for every key; `retryAfterSeconds` > 0 when one of them is locked. */
  begin(keys: readonly string[], now: number): Promise<{ allowed: boolean; retryAfterSeconds: number }>;
  /** The attempt succeeded: its reservation and the username+IP failures are forgiven. */
  succeed(keys: readonly string[], now: number): Promise<void>;
}

export interface LimiterSettings {
  readonly maxFailures: number;
  readonly windowSeconds: number;
  readonly baseDelaySeconds: number;
  readonly maxDelaySeconds: number;
}

interface Counter {
  count: number;
  windowEnds: number;
  lockedUntil: number;
}

/** The keys of one attempt: the username (lower-cased, NFKC) with the IP, and the IP alone. */
export function loginKeys(username: string, ip: string): string[] {
  return [`u:${username.normalize('NFKC').toLowerCase().slice(0, 256)}|${ip}`, `ip:${ip}`];
}

export class MemoryLoginLimiter implements LoginLimiter {
  readonly #counters = new Map<string, Counter>();
  readonly #settings: LimiterSettings;
  #sweepAt = 0;

  constructor(settings: LimiterSettings) {
    this.#settings = settings;
  }

  /** The per-IP budget is larger: several users behind one address (NAT) all typo sometimes. */
  #budget(key: string): number {
    return key.startsWith('ip:') ? this.#settings.maxFailures * 4 : this.#settings.maxFailures;
  }

  async begin(keys: readonly string[], now: number): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    this.#sweep(now);
    let wait = 0;
    for (const k of keys) {
      const c = this.#live(k, now);
      if (c.lockedUntil > now) wait = Math.max(wait, c.lockedUntil - now);
    }
    if (wait > 0) return { allowed: false, retryAfterSeconds: Math.ceil(wait) };
    for (const k of keys) {
      const c = this.#live(k, now);
      c.count += 1;
      const over = c.count - this.#budget(k);
      if (over >= 0) {
        // Entries are never dropped before their window (or lockout) ends: S6.
        const delay = Math.min(this.#settings.maxDelaySeconds, this.#settings.baseDelaySeconds * 2 ** Math.min(over, 20));
        c.lockedUntil = now + delay;
        c.windowEnds = Math.max(c.windowEnds, c.lockedUntil);
      }
      this.#counters.set(k, c);
    }
    return { allowed: true, retryAfterSeconds: 0 };
  }

  async succeed(keys: readonly string[], now: number): Promise<void> {
    for (const k of keys) {
      const c = this.#counters.get(k);
      if (!c) continue;
      if (k.startsWith('u:')) this.#counters.delete(k);
      else {
        c.count = Math.max(0, c.count - 1);
        if (c.count < this.#budget(k)) c.lockedUntil = Math.min(c.lockedUntil, now);
      }
    }
  }

  #live(key: string, now: number): Counter {
    const c = this.#counters.get(key);
    if (c && c.windowEnds > now) return c;
    return { count: 0, windowEnds: now + this.#settings.windowSeconds, lockedUntil: 0 };
  }

  #sweep(now: number): void {
    if (now < this.#sweepAt) return;
    this.#sweepAt = now + 60;
    for (const [k, c] of this.#counters) if (c.windowEnds <= now && c.lockedUntil <= now) this.#counters.delete(k);
  }
}

/** What src/ratelimit's stores offer for login counters (memory or Redis, never evicted early). */
export interface LoginCounterStore {
  attempt(key: string, windowMs: number): Promise<number>;
  peek(key: string): Promise<number>;
  reset(key: string): Promise<void>;
}

/**
 * The same rules over the rate-limit store (`rateLimit.store`: Redis in cluster mode), so that
 * every instance counts the same attempts. A lock is a second counter whose window is the delay.
 * A store that fails rejects: the login page then fails closed (500), never skips the count.
 */
export class CounterLoginLimiter implements LoginLimiter {
  readonly #settings: LimiterSettings;
  readonly #store: () => Promise<LoginCounterStore>;

  constructor(settings: LimiterSettings, store: () => Promise<LoginCounterStore>) {
    this.#settings = settings;
    this.#store = store;
  }

  #budget(key: string): number {
    return key.startsWith('ip:') ? this.#settings.maxFailures * 4 : this.#settings.maxFailures;
  }

  #delay(over: number): number {
    return Math.min(this.#settings.maxDelaySeconds, this.#settings.baseDelaySeconds * 2 ** Math.min(Math.max(over, 0), 20));
  }

  /** Counter keys are hashed: no username is stored in clear. */
  static key(key: string): string {
    return `rampart:auth-login:${createHash('sha256').update(key).digest('base64url')}`;
  }

  async begin(keys: readonly string[], _now: number): Promise<{ allowed: boolean; retryAfterSeconds: number }> {
    const store = await this.#store();
    let wait = 0;
    for (const k of keys) {
      if ((await store.peek(`${CounterLoginLimiter.key(k)}:lock`)) > 0) wait = Math.max(wait, this.#delay((await store.peek(CounterLoginLimiter.key(k))) - this.#budget(k)));
    }
    if (wait > 0) return { allowed: false, retryAfterSeconds: wait };
    let refused = 0;
    for (const k of keys) {
      const count = await store.attempt(CounterLoginLimiter.key(k), this.#settings.windowSeconds * 1000);
      const over = count - this.#budget(k);
      if (over < 0) continue;
      const delay = this.#delay(over);
      await store.attempt(`${CounterLoginLimiter.key(k)}:lock`, delay * 1000);
      // The attempt that reaches the budget still runs; parallel ones past it do not.
      if (over > 0) refused = Math.max(refused, delay);
    }
    return refused > 0 ? { allowed: false, retryAfterSeconds: refused } : { allowed: true, retryAfterSeconds: 0 };
  }

  async succeed(keys: readonly string[], _now: number): Promise<void> {
    const store = await this.#store();
    for (const k of keys) {
      if (!k.startsWith('u:')) continue;
      await store.reset(CounterLoginLimiter.key(k));
      await store.reset(`${CounterLoginLimiter.key(k)}:lock`);
    }
  }
}
