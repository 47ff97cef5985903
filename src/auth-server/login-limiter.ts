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
