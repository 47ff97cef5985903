/**
 * The top-level `rateLimit` block: which store holds the counters — memory by default, Redis to
 * share them between instances (store-factory.ts opens it). Schema and checks only: the config
 * loader imports this file, so it pulls in no store code.
 */
import type { RootConfig, SecretRef } from '../config/types.ts';

export interface RateLimitSettings {
  readonly store: 'memory' | 'redis';
  readonly keyPrefix: string;
  readonly memory: { readonly maxKeys: number; readonly maxLoginKeys: number };
  readonly redis?: {
    readonly url: string;
    readonly username?: string;
    readonly password?: SecretRef;
    readonly timeoutMs: number;
    readonly connectTimeoutMs: number;
  };
}

const int = (min: number, max: number, dflt: number) => ({ type: 'integer', minimum: min, maximum: max, default: dflt });

export function rateLimitRootSchema(secretRef: unknown): Record<string, unknown> {
  return {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      store: { enum: ['memory', 'redis'], default: 'memory' },
      keyPrefix: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$', default: 'rampart', 'x-message': 'must be 1 to 64 letters, digits, ".", "_" or "-"' },
      memory: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: { maxKeys: int(1000, 100_000_000, 100_000), maxLoginKeys: int(1000, 100_000_000, 100_000) },
      },
      redis: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', pattern: '^rediss?://[^\\s]+$', 'x-message': 'must be a redis:// or rediss:// URL' },
          username: { type: 'string', minLength: 1, maxLength: 256 },
          password: secretRef,
          timeoutMs: int(10, 60_000, 500),
          connectTimeoutMs: int(100, 60_000, 2000),
        },
      },
    },
  };
}

/** Cross-field checks of `rateLimit` (paths relative to the root). */
export function checkRateLimitSettings(root: RootConfig): Array<{ path: Array<string | number>; message: string }> {
  const rl = root.rateLimit;
  const out: Array<{ path: Array<string | number>; message: string }> = [];
  if (!rl) return out;
  if (rl.store === 'redis' && !rl.redis) out.push({ path: ['rateLimit', 'store'], message: 'store: redis needs rateLimit.redis.url' });
  if (rl.redis && /^rediss?:\/\/[^/@]*:[^/@]*@/.test(rl.redis.url)) {
    out.push({ path: ['rateLimit', 'redis', 'url'], message: 'no password in the URL: give it as rateLimit.redis.password { env: NAME } or { file: PATH }' });
  }
  return out;
}


/** `upstreams[].concurrency`: requests in flight to one upstream, and a bounded wait for a slot. */
export interface UpstreamConcurrency {
  readonly maxInFlight: number;
  readonly maxQueue: number;
  readonly maxWaitMs: number;
}

export const upstreamConcurrencySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['maxInFlight'],
  properties: {
    maxInFlight: { type: 'integer', minimum: 1, maximum: 1_000_000 },
    maxQueue: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 0 },
    maxWaitMs: { type: 'integer', minimum: 1, maximum: 60_000, default: 1000 },
  },
} as const;
