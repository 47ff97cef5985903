/**
 * Health of one target, as two small state machines (pure, clock passed in):
 *
 * - passive: `unhealthyThreshold` consecutive connection failures or 5xx eject the target for
 *   `ejectMs`; afterwards it is tried again with a fresh count.
 * - active: the periodic check's `unhealthyThreshold` consecutive failures mark the target down,
 *   `healthyThreshold` consecutive successes mark it up again. A target starts up.
 */
import type { HealthConfig } from '../../config/types.ts';

type Passive = HealthConfig['passive'];
type Active = NonNullable<HealthConfig['active']>;

export class PassiveHealth {
  #failures = 0;
  #ejectedUntil = 0;

  available(now: number): boolean {
    return now >= this.#ejectedUntil;
  }

  /** Milliseconds until an ejected target is tried again (0 when it is not ejected). */
  ejectedFor(now: number): number {
    return Math.max(0, this.#ejectedUntil - now);
  }

  /** Returns true when this outcome ejected the target. */
  record(ok: boolean, cfg: Passive, now: number): boolean {
    if (ok) {
      this.#failures = 0;
      return false;
    }
    if (!this.available(now)) return false; // already out: a late failure does not extend it
    if (++this.#failures < cfg.unhealthyThreshold) return false;
    this.#failures = 0;
    this.#ejectedUntil = now + cfg.ejectMs;
    return true;
  }
}

export class ActiveHealth {
  #healthy = true;
  #streak = 0;

  get healthy(): boolean {
    return this.#healthy;
  }

  /** Returns the new state when this check changed it. */
  record(ok: boolean, cfg: Pick<Active, 'healthyThreshold' | 'unhealthyThreshold'>): 'up' | 'down' | undefined {
    if (ok === this.#healthy) {
      this.#streak = 0;
      return undefined;
    }
    if (++this.#streak < (ok ? cfg.healthyThreshold : cfg.unhealthyThreshold)) return undefined;
    this.#healthy = ok;
    this.#streak = 0;
    return ok ? 'up' : 'down';
  }
}
