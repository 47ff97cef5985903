/**
 * The login brute-force limiter (DESIGN.md S6), for the authorization server's password and TOTP
 * steps (the authentication issue calls it):
 *
 * - keyed by username + client IP (IPv6 by /64): an attacker elsewhere cannot lock `admin` out,
 *   and one address guessing one account slows down;
 * - a soft, growing delay, never a hard lockout: the first `freeAttempts` attempts in the window
 *   wait nothing, then base·2^k up to `maxDelayMs`;
 * - identical for unknown usernames: the key is the submitted name, normalised, whether or not such
 *   a user exists, so the delays reveal nothing;
 * - every attempt counts before the password is checked (parallel guesses each see a longer delay);
 *   a success clears the counter; counters persist in the configured store (Redis: across
 *   instances) and are never evicted before their window ends (MemoryStore refuses instead).
 *
 * A store failure throws (StoreError): the caller fails closed (503), never skips the delay.
 */
import { createHash } from 'node:crypto';
import { ipKey } from './keys.ts';
import type { LoginCounter } from './store.ts';

export interface LoginLimiterOptions {
  readonly store: LoginCounter;
  /** 'password' or 'totp': separate counters per step. */
  readonly purpose: string;
  readonly keyPrefix?: string;
  readonly freeAttempts?: number;
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** The counter's window, restarted by each attempt. */
  readonly windowMs?: number;
}

export interface LoginAttempt {
  /** Wait this long before checking the credentials (and answering). */
  readonly delayMs: number;
  /** Attempts in the window, this one included. */
  readonly attempts: number;
}

export class LoginLimiter {
  readonly #o: Required<LoginLimiterOptions>;

  constructor(o: LoginLimiterOptions) {
    this.#o = { keyPrefix: 'rampart', freeAttempts: 3, baseDelayMs: 1000, maxDelayMs: 30_000, windowMs: 15 * 60_000, ...o };
  }

  /** The counter key: hashed, so no username is stored in clear. */
  key(username: string, ip: string): string {
    const name = username.normalize('NFKC').toLowerCase().trim();
    const h = createHash('sha256').update(`${name}\u0000${ipKey(ip)}`).digest('base64url');
    return `${this.#o.keyPrefix}:login:${this.#o.purpose}:${h}`;
  }

  /** Counts an attempt (before the credentials are checked) and says how long to wait. */
  async attempt(username: string, ip: string): Promise<LoginAttempt> {
    const attempts = await this.#o.store.attempt(this.key(username, ip), this.#o.windowMs);
    return { attempts, delayMs: this.delayFor(attempts) };
  }

  /** The delay before the n-th attempt of a window (1-based). */
  delayFor(attempts: number): number {
    const over = attempts - 1 - this.#o.freeAttempts;
    if (over < 0) return 0;
    return Math.min(this.#o.maxDelayMs, this.#o.baseDelayMs * 2 ** Math.min(over, 30));
  }

  /** The credentials were right: the counter starts over. */
  async succeeded(username: string, ip: string): Promise<void> {
    await this.#o.store.reset(this.key(username, ip));
  }

  /** Attempts counted in the current window. */
  attempts(username: string, ip: string): Promise<number> {
    return this.#o.store.peek(this.key(username, ip));
  }
}
