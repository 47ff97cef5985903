/**
 * Circuit breaker per upstream: pure logic, clock injected (closed → open → half-open → closed).
 *
 * - closed: outcomes are counted in a sliding window of `windowMs` (ten buckets); once it holds at
 *   least `minimumRequests` outcomes and the failure ratio reaches `failureRatio`, the circuit opens.
 * - open: every request is refused for `openMs`.
 * - half-open: at most `halfOpenRequests` probes are let through; one failure re-opens the
 *   circuit, `halfOpenRequests` successes close it with an empty window.
 *
 * A permit remembers the epoch it was issued in: an outcome that arrives after the state changed
 * (a slow request admitted while closed, finishing after the circuit opened) is ignored.
 */
import type { CircuitBreakerConfig } from '../../config/types.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface Permit {
  readonly epoch: number;
  readonly probe: boolean;
}

const BUCKETS = 10;

export class CircuitBreaker {
  readonly #cfg: CircuitBreakerConfig;
  readonly #now: () => number;
  readonly #onChange: ((from: BreakerState, to: BreakerState) => void) | undefined;
  #state: BreakerState = 'closed';
  #epoch = 0;
  #openedAt = 0;
  #probesInFlight = 0;
  #probeSuccesses = 0;
  readonly #width: number;
  readonly #bucketIndex = new Array<number>(BUCKETS).fill(-1);
  readonly #total = new Array<number>(BUCKETS).fill(0);
  readonly #failures = new Array<number>(BUCKETS).fill(0);

  constructor(cfg: CircuitBreakerConfig, now: () => number = Date.now, onChange?: (from: BreakerState, to: BreakerState) => void) {
    this.#cfg = cfg;
    this.#now = now;
    this.#onChange = onChange;
    this.#width = Math.max(1, Math.ceil(cfg.windowMs / BUCKETS));
  }

  /** The current state (an open circuit whose `openMs` has passed reads as half-open). */
  get state(): BreakerState {
    if (this.#state === 'open' && this.#now() - this.#openedAt >= this.#cfg.openMs) this.#move('half-open');
    return this.#state;
  }

  /** A permit to send one request, or undefined when the circuit refuses it. */
  acquire(): Permit | undefined {
    const state = this.state;
    if (state === 'closed') return { epoch: this.#epoch, probe: false };
    if (state === 'open') return undefined;
    if (this.#probesInFlight + this.#probeSuccesses >= this.#cfg.halfOpenRequests) return undefined;
    this.#probesInFlight++;
    return { epoch: this.#epoch, probe: true };
  }

  /** The outcome of a request made under `permit`. */
  record(permit: Permit, ok: boolean): void {
    if (permit.epoch !== this.#epoch) return;
    if (permit.probe) {
      this.#probesInFlight--;
      if (!ok) return this.#open();
      if (++this.#probeSuccesses >= this.#cfg.halfOpenRequests) this.#move('closed');
      return;
    }
    this.#count(ok);
    const { total, failures } = this.#sum();
    if (total >= this.#cfg.minimumRequests && failures / total >= this.#cfg.failureRatio) this.#open();
  }

  /** The request ended without an outcome (the client went away): frees a probe slot. */
  release(permit: Permit): void {
    if (permit.probe && permit.epoch === this.#epoch) this.#probesInFlight--;
  }

  /** Milliseconds until an open circuit lets probes through (0 when not open). */
  retryAfterMs(): number {
    return this.state === 'open' ? Math.max(0, this.#openedAt + this.#cfg.openMs - this.#now()) : 0;
  }

  #open(): void {
    this.#openedAt = this.#now();
    this.#move('open');
  }

  #move(to: BreakerState): void {
    const from = this.#state;
    this.#state = to;
    this.#epoch++;
    this.#probesInFlight = 0;
    this.#probeSuccesses = 0;
    if (to === 'closed') {
      this.#bucketIndex.fill(-1);
      this.#total.fill(0);
      this.#failures.fill(0);
    }
    if (from !== to) this.#onChange?.(from, to);
  }

  #count(ok: boolean): void {
    const index = Math.floor(this.#now() / this.#width);
    const slot = index % BUCKETS;
    if (this.#bucketIndex[slot] !== index) {
      this.#bucketIndex[slot] = index;
      this.#total[slot] = 0;
      this.#failures[slot] = 0;
    }
    this.#total[slot] = (this.#total[slot] ?? 0) + 1;
    if (!ok) this.#failures[slot] = (this.#failures[slot] ?? 0) + 1;
  }

  #sum(): { total: number; failures: number } {
    const current = Math.floor(this.#now() / this.#width);
    let total = 0;
    let failures = 0;
    for (let i = 0; i < BUCKETS; i++) {
      const index = this.#bucketIndex[i] ?? -1;
      if (index > current - BUCKETS && index <= current) {
        total += this.#total[i] ?? 0;
        failures += this.#failures[i] ?? 0;
      }
    }
    return { total, failures };
  }
}
