/**
 * The RateLimit header fields of draft-ietf-httpapi-ratelimit-headers (-09 and later), in the
 * Structured Field syntax of RFC 9651 (formerly RFC 8941):
 *
 *   RateLimit-Policy: "per-ip";q=20;w=2, "hourly";q=1000;w=3600     (§3: a List of quota policies)
 *   RateLimit: "per-ip";r=4;t=1, "hourly";r=980;t=72                  (§4: a List of service limits)
 *
 * Each item is an sf-string naming the policy (the limit id) with the parameters q (quota units),
 * w (window, seconds) and r (remaining units), t (seconds until the quota is fully restored).
 * Retry-After (RFC 9110 §10.2.3) carries delay-seconds, rounded up so a client that waits exactly
 * that long is admitted.
 */
import type { CompiledLimit } from './policy.ts';

export interface LimitState {
  readonly limit: CompiledLimit;
  readonly remaining: number;
  readonly resetMs: number;
}

/** Limit ids are ^[a-z0-9][a-z0-9._-]*$: nothing to escape in an sf-string (RFC 9651 §3.3.3). */
function item(id: string): string {
  return `"${id}"`;
}

export function policyField(limits: readonly CompiledLimit[]): string {
  return limits.map((l) => `${item(l.id)};q=${l.quota};w=${l.quotaWindow}`).join(', ');
}

export function stateField(states: readonly LimitState[]): string {
  // sf-integer: at most 15 digits (RFC 9651 §3.3.1); r never exceeds q, t never exceeds a year.
  return states.map((s) => `${item(s.limit.id)};r=${Math.min(s.remaining, s.limit.quota)};t=${seconds(s.resetMs)}`).join(', ');
}

/** Whole seconds, rounded up, never negative. */
export function seconds(ms: number): number {
  return ms <= 0 ? 0 : Math.ceil(ms / 1000 - 1e-9);
}

/** Retry-After delay-seconds: at least 1 (a refusal always asks the client to wait). */
export function retryAfter(ms: number): string {
  return String(Math.max(1, seconds(ms)));
}

/** Adds List members to a field that may already hold some (both stages set the same fields). */
export function appendListField(headers: Record<string, string | string[]>, name: string, value: string): void {
  if (!value) return;
  const cur = headers[name];
  const existing = Array.isArray(cur) ? cur.join(', ') : cur;
  headers[name] = existing ? `${existing}, ${value}` : value;
}
