/**
 * Builds a stage's Limiter from its merged settings and the gateway's services: the shared store,
 * the queue kept across reloads (per stage and route), and the check that one limit id means one
 * set of settings everywhere (the id names the counter: routes that share an id share a budget).
 */
import type { CompileEnv } from '../core/compile-env.ts';
import type { RootConfig } from '../config/types.ts';
import { systemClock } from './clock.ts';
import { Limiter, limitSet, type LimitSet } from './limiter.ts';
import { compileLimit, type CompiledLimit, type LimitConfig } from './policy.ts';
import { DelayQueue } from './queue.ts';
import type { LimiterConfig } from './stage-config.ts';
import { rateLimitStore } from './store-factory.ts';
import { countersFor } from './stats.ts';
import type { RequestContext } from '../core/context.ts';

const declared = new WeakMap<RootConfig, Map<string, { fp: string; where: string }>>();

/** The same id with other settings elsewhere would silently share (or fight over) one counter. */
export function registerLimits(root: RootConfig, stage: string, where: string, limits: readonly LimitConfig[]): void {
  let seen = declared.get(root);
  if (!seen) declared.set(root, (seen = new Map()));
  for (const l of limits) {
    const fp = JSON.stringify([l.limit, l.window, l.burst ?? null, l.by ?? 'ip', l.header ?? null, l.combineWith ?? null, l.ipv6Prefix ?? null, l.fallback ?? null]);
    const prev = seen.get(`${stage} ${l.id}`);
    if (prev && prev.fp !== fp) {
      throw new Error(`${stage} limit "${l.id}" has different settings in ${prev.where} and ${where}: one id is one counter, give each its own id`);
    }
    if (!prev) seen.set(`${stage} ${l.id}`, { fp, where });
  }
}

export async function compileLimiter(
  stage: 'throttle' | 'quota',
  config: LimiterConfig,
  env: CompileEnv,
  select?: (base: LimitSet) => (ctx: RequestContext) => LimitSet,
  extraSets: ReadonlyArray<{ where: string; limits: readonly LimitConfig[] }> = [],
): Promise<Limiter | undefined> {
  const where = env.route ? `route ${env.route.id}` : 'defaults';
  registerLimits(env.root, stage, where, config.limits);
  for (const s of extraSets) registerLimits(env.root, stage, s.where, s.limits);
  if (config.limits.length === 0 && extraSets.every((s) => s.limits.length === 0)) return undefined;
  const log = env.logger.child({ stage, route: env.route?.id });
  if (config.onStoreError === 'allow') {
    // STYLE habit 9: a relaxation of a secure default is loud at start-up.
    log.warn(`${stage}: onStoreError: allow — requests pass UNLIMITED while the rate-limit store is unreachable`);
  }
  if (config.mode === 'shadow') log.warn(`${stage}: shadow mode — limits are counted and logged, never enforced`);
  const store = await rateLimitStore(env);
  const prefix = env.root.rateLimit.keyPrefix;
  const base = limitSet(stage, prefix, config.limits.map(compileLimit));
  const queue = config.onExceed === 'queue'
    ? env.keeper.keep(`ratelimit.queue`, `${stage} ${env.route?.id ?? ''}`, 'queue', () => new DelayQueue(config.queue, systemClock))
    : undefined;
  if (queue) queue.settings = config.queue;
  return new Limiter({
    stage,
    routeId: env.route?.id,
    mode: config.mode,
    onStoreError: config.onStoreError,
    headers: config.headers,
    store,
    queue,
    counters: countersFor(stage),
    log,
    select: select ? select(base) : () => base,
  });
}

export function compileSet(stage: string, keyPrefix: string, limits: readonly LimitConfig[]): LimitSet {
  return limitSet(stage, keyPrefix, limits.map(compileLimit) as CompiledLimit[]);
}
