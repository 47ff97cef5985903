/**
 * A concurrency limit (per upstream): at most `maxInFlight` requests at once; up to `maxQueue`
 * more wait, first come first served, for at most `maxWaitMs`; anything beyond is refused at once
 * (the proxy answers 503 RAMPART_UPSTREAM_SATURATED with Retry-After). Like Envoy's
 * max_requests / max_pending_requests circuit-breaker thresholds.
 */
import type { UpstreamConcurrency } from './settings.ts';
import { systemClock, type Clock } from './clock.ts';

export type Release = () => void;

interface Waiter {
  grant: ((r: Release | undefined) => void) | undefined;
  cancel: () => void;
}

export class ConcurrencyLimit {
  settings: UpstreamConcurrency;
  readonly #clock: Clock;
  #inFlight = 0;
  readonly #waiting: Waiter[] = [];

  constructor(settings: UpstreamConcurrency, clock: Clock = systemClock) {
    this.settings = settings;
    this.#clock = clock;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  get waiting(): number {
    return this.#waiting.length;
  }

  /** A release function, or undefined when saturated (the queue is full or the wait ran out). */
  acquire(signal?: AbortSignal): Release | undefined | Promise<Release | undefined> {
    if (this.#inFlight < this.settings.maxInFlight && this.#waiting.length === 0) return this.#grant();
    if (this.#waiting.length >= this.settings.maxQueue || signal?.aborted) return undefined;
    return new Promise((resolve) => {
      const w: Waiter = { grant: resolve, cancel: () => undefined };
      const leave = () => {
        const i = this.#waiting.indexOf(w);
        if (i !== -1) this.#waiting.splice(i, 1);
        stopTimer();
        signal?.removeEventListener('abort', leave);
        if (w.grant) {
          w.grant = undefined;
          resolve(undefined);
        }
      };
      const stopTimer = this.#clock.setTimer(leave, this.settings.maxWaitMs);
      w.cancel = () => {
        stopTimer();
        signal?.removeEventListener('abort', leave);
      };
      signal?.addEventListener('abort', leave, { once: true });
      this.#waiting.push(w);
    });
  }

  #grant(): Release {
    this.#inFlight++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#inFlight--;
      this.#next();
    };
  }

  #next(): void {
    while (this.#inFlight < this.settings.maxInFlight && this.#waiting.length > 0) {
      const w = this.#waiting.shift() as Waiter;
      w.cancel();
      const grant = w.grant;
      w.grant = undefined;
      grant?.(this.#grant());
    }
  }
}
