/**
 * A declared limit (`throttle.limits[]`, `quota.limits[]`) and its compiled form. The schema is
 * shared by both stages; the throttle accepts only `by: ip` (it runs before authentication).
 */
import type { JsonSchema } from '../core/stage.ts';
import type { GcraParams } from './gcra.ts';

export type KeyDimension = 'ip' | 'user' | 'client' | 'key' | 'principal' | 'header';

export interface LimitConfig {
  readonly id: string;
  readonly limit: number;
  /** Seconds (integer) or a duration: "30s", "1m", "1h", "1d". */
  readonly window: number | string;
  /** Requests admitted at once after a quiet period; default: `limit`. */
  readonly burst?: number;
  readonly by?: KeyDimension;
  /** by: header — the request header whose value is (part of) the key. */
  readonly header?: string;
  /** by: header — S5: a header alone is forgeable, so it is always combined with one of these. */
  readonly combineWith?: 'ip' | 'principal';
  /** IPv6 client addresses are grouped by this prefix (one /64 is one subscriber). */
  readonly ipv6Prefix?: number;
  /** by: user|client|key|principal when the request has no such identity: key by IP, or skip the limit. */
  readonly fallback?: 'ip' | 'skip';
}

export interface CompiledLimit extends GcraParams {
  readonly id: string;
  readonly by: KeyDimension;
  readonly header: string | undefined;
  readonly combineWith: 'ip' | 'principal';
  readonly ipv6Prefix: number;
  readonly fallback: 'ip' | 'skip';
  readonly windowSeconds: number;
  /** RateLimit-Policy `q` and `w` (see headers.ts). */
  readonly quota: number;
  readonly quotaWindow: number;
}

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const DURATION = '^[1-9][0-9]{0,6}(s|m|h|d)$';

/** Seconds of a window, or undefined when it is not one. */
export function windowSeconds(w: number | string): number | undefined {
  if (typeof w === 'number') return Number.isInteger(w) && w >= 1 && w <= 31_536_000 ? w : undefined;
  const m = new RegExp(DURATION).exec(w);
  if (!m) return undefined;
  const s = Number(w.slice(0, -1)) * (UNITS[m[1] as string] ?? 0);
  return s <= 31_536_000 ? s : undefined;
}

export function limitSchema(dimensions: readonly KeyDimension[]): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['id', 'limit', 'window'],
    properties: {
      id: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', 'x-message': 'must be an id: lower-case letters, digits, ".", "_" or "-", at most 63' },
      limit: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
      window: {
        type: ['integer', 'string'],
        minimum: 1,
        maximum: 31_536_000,
        pattern: DURATION,
        'x-message': 'must be whole seconds or a duration like "30s", "1m", "1h", "1d"',
      },
      burst: { type: 'integer', minimum: 1, maximum: 1_000_000_000 },
      by: { enum: [...dimensions] },
      // Keys that only the quota (after authentication) has.
      ...(dimensions.includes('header')
        ? {
            header: { type: 'string', pattern: '^[A-Za-z0-9-]{1,64}$', 'x-message': 'must be a header name' },
            combineWith: { enum: ['ip', 'principal'] },
            fallback: { enum: ['ip', 'skip'] },
          }
        : {}),
      ipv6Prefix: { type: 'integer', minimum: 32, maximum: 128 },
    },
  };
}

/** Cross-field checks of a list of limits; paths are relative to the stage (`limits.2.header`). */
export function checkLimits(limits: readonly LimitConfig[]): Array<{ path: string; message: string }> {
  const out: Array<{ path: string; message: string }> = [];
  const ids = new Map<string, number>();
  limits.forEach((l, i) => {
    const at = (k: string, message: string) => out.push({ path: `limits.${i}${k ? `.${k}` : ''}`, message });
    if (ids.has(l.id)) at('id', `duplicate limit id "${l.id}" (also limits[${ids.get(l.id)}])`);
    ids.set(l.id, i);
    const secs = windowSeconds(l.window);
    if (secs === undefined) at('window', 'must be whole seconds (1 to 31536000) or a duration like "30s", "1m", "1h", "1d"');
    else if ((secs * 1000) / l.limit < 0.001) at('limit', `more than 1,000,000 requests per second (${l.limit} per ${secs} s)`);
    const by = l.by ?? 'ip';
    if (by === 'header' && !l.header) at('header', 'by: header needs the header name');
    if (by !== 'header' && l.header !== undefined) at('header', 'only with by: header');
    if (by !== 'header' && l.combineWith !== undefined) at('combineWith', 'only with by: header');
    if (l.header && /^(authorization|cookie|proxy-authorization|x-api-key)$/i.test(l.header)) {
      at('header', 'credentials are not keys: use by: user, client or key (after authentication)');
    }
  });
  return out;
}

export function compileLimit(l: LimitConfig): CompiledLimit {
  const secs = windowSeconds(l.window);
  if (secs === undefined) throw new Error(`limit ${l.id}: invalid window`);
  const burst = l.burst ?? l.limit;
  const emissionMs = (secs * 1000) / l.limit;
  // RateLimit-Policy: q = the burst and w = the time it takes to refill it when that is a whole
  // number of seconds (so that r never exceeds q); the declared limit and window otherwise.
  const refill = (burst * secs) / l.limit;
  const whole = Number.isInteger(refill) && refill >= 1;
  return {
    id: l.id,
    emissionMs,
    burst,
    by: l.by ?? 'ip',
    header: l.header?.toLowerCase(),
    combineWith: l.combineWith ?? 'ip',
    ipv6Prefix: l.ipv6Prefix ?? 64,
    fallback: l.fallback ?? 'ip',
    windowSeconds: secs,
    quota: whole ? burst : l.limit,
    quotaWindow: whole ? refill : secs,
  };
}
