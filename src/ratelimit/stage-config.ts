/**
 * The settings both limit stages share (`throttle`, `quota`): the limits, what happens beyond
 * them, what happens when the store fails, and which headers go out. Strict schema, no `default`
 * keywords (the defaults below are merged under defaults → upstream → route).
 */
import type { JsonSchema, StageMode } from '../core/stage.ts';
import { checkLimits, limitSchema, type KeyDimension, type LimitConfig } from './policy.ts';
import type { QueueSettings } from './queue.ts';

export interface LimiterConfig {
  readonly limits: readonly LimitConfig[];
  readonly mode: StageMode;
  readonly onExceed: 'reject' | 'queue';
  readonly queue: QueueSettings;
  readonly onStoreError: 'deny' | 'allow';
  readonly headers: 'all' | 'denied' | 'none';
}

export const limiterDefaults: LimiterConfig = Object.freeze({
  limits: Object.freeze([]) as readonly LimitConfig[],
  mode: 'enforce',
  onExceed: 'reject',
  queue: Object.freeze({ maxLength: 100, maxPerKey: 10, maxWaitMs: 1000 }),
  onStoreError: 'deny',
  headers: 'all',
});

export function limiterProperties(dimensions: readonly KeyDimension[]): Record<string, JsonSchema> {
  return {
    limits: { type: 'array', maxItems: 16, items: limitSchema(dimensions) },
    mode: { enum: ['enforce', 'shadow'] },
    onExceed: { enum: ['reject', 'queue'] },
    queue: {
      type: 'object',
      additionalProperties: false,
      properties: {
        maxLength: { type: 'integer', minimum: 1, maximum: 100_000 },
        maxPerKey: { type: 'integer', minimum: 1, maximum: 100_000 },
        maxWaitMs: { type: 'integer', minimum: 1, maximum: 60_000 },
      },
    },
    onStoreError: { enum: ['deny', 'allow'] },
    headers: { enum: ['all', 'denied', 'none'] },
  };
}

export function checkLimiter(config: LimiterConfig): Array<{ path: string; message: string }> {
  const out = checkLimits(config.limits);
  if (config.queue.maxPerKey > config.queue.maxLength) {
    out.push({ path: 'queue.maxPerKey', message: `cannot exceed queue.maxLength (${config.queue.maxLength})` });
  }
  return out;
}
