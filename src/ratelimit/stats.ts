/**
 * Counters of every limiter in the process, by stage: what was checked, allowed, refused, shadow
 * refused, queued, shed, and every store error. The metrics of the monitoring practice read
 * `rateLimitStats()`; the access log carries the per-request decision (onLog).
 */
export interface LimiterCounters {
  checked: number;
  allowed: number;
  rejected: number;
  shadowRejected: number;
  queued: number;
  queueRejected: number;
  storeErrors: number;
  storeErrorsAllowed: number;
  shed: number;
  saturated: number;
  evictions: number;
}

const counters = new Map<string, LimiterCounters>();

export function countersFor(stage: string): LimiterCounters {
  let c = counters.get(stage);
  if (!c) {
    c = { checked: 0, allowed: 0, rejected: 0, shadowRejected: 0, queued: 0, queueRejected: 0, storeErrors: 0, storeErrorsAllowed: 0, shed: 0, saturated: 0, evictions: 0 };
    counters.set(stage, c);
  }
  return c;
}

/** A copy of every counter, keyed by stage ('throttle', 'quota', 'store', 'proxy'). */
export function rateLimitStats(): Record<string, LimiterCounters> {
  return Object.fromEntries([...counters].map(([k, v]) => [k, { ...v }]));
}
