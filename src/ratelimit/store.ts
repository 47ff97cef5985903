/**
 * The counter store behind every limiter. One `consume` checks all the limits of a request and,
 * only when every one of them admits it, takes one unit from each: atomically (a single-threaded
 * map in memory, one Lua script in Redis — one round trip for any number of limits).
 */
import type { GcraParams } from './gcra.ts';

export interface ConsumeItem extends GcraParams {
  /** The full store key (prefix included). */
  readonly key: string;
}

export interface ItemState {
  readonly remaining: number;
  readonly resetMs: number;
  readonly retryAfterMs: number;
}

export interface ConsumeResult {
  readonly allowed: boolean;
  /** > 0: admitted as a reservation; the caller waits this long before it proceeds. */
  readonly waitMs: number;
  /** Index of the first limit that refused (−1 when allowed). */
  readonly denied: number;
  readonly items: readonly ItemState[];
}

export interface LoginCounter {
  /** Counts one attempt; returns the attempts now in the window (this one included). */
  attempt(key: string, windowMs: number): Promise<number>;
  /** Attempts counted in the window (0 when it has ended). */
  peek(key: string): Promise<number>;
  reset(key: string): Promise<void>;
}

export interface RateLimitStore extends LoginCounter {
  readonly kind: 'memory' | 'redis';
  /**
   * `maxWaitMs` > 0 allows a reservation: a request that would be refused is admitted with a
   * delay when every limit can take it within that time.
   */
  consume(items: readonly ConsumeItem[], maxWaitMs: number): ConsumeResult | Promise<ConsumeResult>;
  close(): Promise<void>;
}

/** The store cannot answer (Redis down, timed out, or a bounded store full of live counters). */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
  }
}
