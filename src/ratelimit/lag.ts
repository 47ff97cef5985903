/**
 * Event-loop lag, for load shedding: a timer every 50 ms notes how late it fires; the lag is the
 * worst of the last second, or the current delay when the loop has been blocked since the last
 * tick. When the loop lags, every request already waits that long: refusing new ones quickly
 * (503 + Retry-After) keeps the gateway answering instead of timing out everyone.
 */
import { performance } from 'node:perf_hooks';

const INTERVAL = 50;
const SAMPLES = 20;

export class LagMonitor {
  #last = performance.now();
  readonly #samples = new Float64Array(SAMPLES);
  #i = 0;
  readonly #timer: NodeJS.Timeout;

  constructor() {
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#samples[this.#i++ % SAMPLES] = Math.max(0, now - this.#last - INTERVAL);
      this.#last = now;
    }, INTERVAL);
    this.#timer.unref();
  }

  /** Milliseconds of lag: the worst over about the last second. */
  lagMs(): number {
    let worst = Math.max(0, performance.now() - this.#last - INTERVAL);
    for (const s of this.#samples) if (s > worst) worst = s;
    return worst;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
