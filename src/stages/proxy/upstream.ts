/**
 * The long-lived side of one upstream, assembled at compile from objects the keeper hands over
 * across hot reloads: one pool (and passive health) per target, one active checker per target,
 * one circuit breaker and one balancer per upstream. Routes sharing an upstream share all of it.
 */
import type { Logger } from 'pino';
import type { UpstreamConfig } from '../../config/types.ts';
import type { Keeper } from '../../core/keeper.ts';
import type { CompileEnv } from '../../core/compile-env.ts';
import { ANONYMOUS } from '../../core/principal.ts';
import { publishSecurityEvent } from '../../observe/events.ts';
import { startActiveChecks, type ActiveChecker } from './active-check.ts';
import { Balancer } from './balancer.ts';
import { CircuitBreaker } from './breaker.ts';
import { createTarget, disposeTarget, loadTlsMaterial, targetFingerprint, type Target } from './target.ts';

export interface UpstreamRuntime {
  readonly config: UpstreamConfig;
  readonly breaker: CircuitBreaker;
  /** The next available target, avoiding `tried` when another one is available. */
  pick(tried?: ReadonlySet<Target>): Target | undefined;
  /** Passive health: a connection failure or 5xx (ok = false), or a good answer. */
  observe(target: Target, ok: boolean, reason: string): void;
  /** Seconds a client should wait when no target is available (Retry-After, at least 1). */
  retryAfterSeconds(): number;
}

/**
 * The runtime of an upstream as every stage that talks to it gets it (the proxy, authz's lookups):
 * one construction, so that whichever stage compiles first, active health checks carry the
 * gateway's own Rampart-Identity (services that accept only the gateway answer /health too).
 */
export function sharedUpstream(env: Pick<CompileEnv, 'keeper' | 'logger' | 'identity' | 'generation'>, upstream: UpstreamConfig): UpstreamRuntime {
  return upstreamRuntime(upstream, env.keeper, env.logger, () => env.identity.tokenFor(ANONYMOUS, upstream.id, env.generation));
}

export function upstreamRuntime(upstream: UpstreamConfig, keeper: Keeper, logger: Logger, identity?: () => Promise<string>): UpstreamRuntime {
  const log = logger.child({ stage: 'proxy', upstream: upstream.id });
  const tls = loadTlsMaterial(upstream);
  const targets: Target[] = [];
  const checkers: Array<ActiveChecker | undefined> = [];
  for (const { url } of upstream.targets) {
    const id = `${upstream.id} ${url}`;
    const fp = targetFingerprint(upstream, url, tls);
    const target = keeper.keep('proxy.pool', id, fp, () => createTarget(upstream, url, tls), (t) => disposeTarget(t));
    targets.push(target);
    const active = upstream.health.active;
    checkers.push(
      active === undefined
        ? undefined
        : keeper.keep('proxy.health', id, JSON.stringify({ fp, active }), () =>
            startActiveChecks(target, active, (state, reason) => {
              log[state === 'down' ? 'warn' : 'info']({ target: url, reason }, `upstream target ${state === 'down' ? 'failed' : 'passed'} its health checks`);
              opsEvent(`proxy.target_${state}`, state === 'up', `upstream ${upstream.id} target ${url}: ${reason}`);
            }, identity),
          (c) => c.stop()),
    );
  }
  const breaker = keeper.keep('proxy.breaker', upstream.id, JSON.stringify(upstream.circuitBreaker), () =>
    new CircuitBreaker(upstream.circuitBreaker, Date.now, (from, to) => {
      log[to === 'open' ? 'warn' : 'info']({ from, to }, `circuit breaker ${to}`);
      if (to !== 'half-open') opsEvent(`proxy.circuit_${to}`, to === 'closed', `upstream ${upstream.id}: circuit ${from} -> ${to}`);
    }));
  const balancer = keeper.keep('proxy.balancer', upstream.id, JSON.stringify(upstream.targets), () => new Balancer(upstream.targets.map((t) => t.weight)));

  const available = (i: number, now: number): boolean => {
    const t = targets[i];
    return t !== undefined && t.passive.available(now) && (checkers[i]?.healthy ?? true);
  };

  return {
    config: upstream,
    breaker,
    pick(tried) {
      const now = Date.now();
      const fresh = tried && tried.size > 0 ? balancer.pick((i) => available(i, now) && !tried.has(targets[i] as Target)) : undefined;
      const index = fresh ?? balancer.pick((i) => available(i, now));
      return index === undefined ? undefined : targets[index];
    },
    observe(target, ok, reason) {
      if (target.passive.record(ok, upstream.health.passive, Date.now())) {
        log.warn({ target: target.url, reason, ejectMs: upstream.health.passive.ejectMs }, 'upstream target ejected');
        opsEvent('proxy.target_ejected', false, `upstream ${upstream.id} target ${target.url}: ${reason}`);
      }
    },
    retryAfterSeconds() {
      const now = Date.now();
      let wait = Infinity;
      targets.forEach((t, i) => {
        const ejected = t.passive.ejectedFor(now);
        if (ejected > 0) wait = Math.min(wait, ejected);
        else if (checkers[i]?.healthy === false && upstream.health.active) {
          wait = Math.min(wait, upstream.health.active.intervalMs * upstream.health.active.healthyThreshold);
        }
      });
      if (!Number.isFinite(wait)) wait = breaker.retryAfterMs();
      return Math.max(1, Math.ceil(wait / 1000));
    },
  };
}

function opsEvent(action: string, success: boolean, reason: string): void {
  publishSecurityEvent({
    'event.kind': 'event',
    'event.category': ['network'],
    'event.action': action,
    'event.outcome': success ? 'success' : 'failure',
    'event.reason': reason,
  });
}
