/**
 * GCRA, the Generic Cell Rate Algorithm (ITU-T I.371 §4.4.2 "virtual scheduling"; the leaky bucket
 * as a meter). One number per key, the theoretical arrival time (TAT), replaces a counter and a
 * window: there are no window edges, so no 2× burst where a fixed window would reset, and the burst
 * is explicit. With emission interval T = window / limit and a burst of B:
 *
 *   newTat  = max(tat, now) + T·cost
 *   allowAt = newTat − T·B          admitted when now ≥ allowAt
 *
 * In any interval of length d at most B + d/T requests are admitted. `maxWaitMs` turns a refusal
 * into a reservation (a delayed admission, like nginx's limit_req without nodelay): the TAT moves
 * on and the caller waits allowAt − now. The Redis store runs the same arithmetic in Lua.
 */
export interface GcraParams {
  /** Milliseconds between two requests at the sustained rate (window / limit). */
  readonly emissionMs: number;
  /** How many requests may arrive at once after a quiet period (≥ 1). */
  readonly burst: number;
}

export interface GcraOutcome {
  readonly allowed: boolean;
  /** The TAT to store when the request is admitted (unchanged when refused). */
  readonly tat: number;
  /** Milliseconds the caller must wait before it proceeds (0: now; > 0: reserved). */
  readonly waitMs: number;
  /** Requests still admissible at once after this one. */
  readonly remaining: number;
  /** Milliseconds until the bucket is full again. */
  readonly resetMs: number;
  /** When refused: milliseconds until a request would be admitted. */
  readonly retryAfterMs: number;
}

export function gcra(tat: number | undefined, now: number, p: GcraParams, maxWaitMs = 0, cost = 1): GcraOutcome {
  const base = tat === undefined || tat < now ? now : tat;
  const newTat = base + p.emissionMs * cost;
  const allowAt = newTat - p.emissionMs * p.burst;
  const early = allowAt - now;
  if (early > maxWaitMs) {
    return { allowed: false, tat: base, waitMs: 0, remaining: 0, resetMs: base - now, retryAfterMs: early };
  }
  const waitMs = early > 0 ? early : 0;
  // remaining = ⌊(now − allowAt) / T⌋, with a little slack for floating-point dust.
  const remaining = waitMs > 0 ? 0 : Math.max(0, Math.floor((now - allowAt) / p.emissionMs + 1e-9));
  return { allowed: true, tat: newTat, waitMs, remaining, resetMs: newTat - now, retryAfterMs: 0 };
}
