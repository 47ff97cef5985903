/**
 * Opens the store of the `rateLimit` block once per config generation. The keeper keeps it across
 * hot reloads (its counters and its Redis connection) while the store settings stay the same.
 */
import { createHash } from 'node:crypto';
import type { CompileEnv } from '../core/compile-env.ts';
import type { RootConfig } from '../config/types.ts';
import { resolveSecret } from '../config/secrets.ts';
import { MemoryStore } from './memory-store.ts';
import { RedisStore } from './redis-store.ts';
import type { RateLimitStore } from './store.ts';
import { countersFor } from './stats.ts';

const perConfig = new WeakMap<RootConfig, Promise<RateLimitStore>>();

/** The store of this config generation (the same object for every stage compiled with it). */
export function rateLimitStore(env: CompileEnv): Promise<RateLimitStore> {
  let p = perConfig.get(env.root);
  if (!p) {
    p = open(env);
    perConfig.set(env.root, p);
  }
  return p;
}

async function open(env: CompileEnv): Promise<RateLimitStore> {
  const rl = env.root.rateLimit;
  const log = env.logger.child({ component: 'ratelimit' });
  if (rl.store === 'memory' || !rl.redis) {
    const s = env.keeper.keep('ratelimit.store', 'memory', 'memory', () =>
      new MemoryStore({
        maxKeys: rl.memory.maxKeys,
        maxLoginKeys: rl.memory.maxLoginKeys,
        onEvict: () => {
          const c = countersFor('store');
          // Logged on the first and then every 1000th: an address-spraying attack must not flood the log.
          if (c.evictions++ % 1000 === 0) log.warn({ maxKeys: s.maxKeys, evictions: c.evictions }, 'rate-limit memory store full: evicting least recently used live keys (raise rateLimit.memory.maxKeys)');
        },
      }), (m) => m.close());
    s.maxKeys = rl.memory.maxKeys;
    s.maxLoginKeys = rl.memory.maxLoginKeys;
    return s;
  }
  const r = rl.redis;
  const password = r.password ? (await resolveSecret(r.password, env.baseDir ?? process.cwd())).toString('utf8') : undefined;
  const fingerprint = JSON.stringify({ url: r.url, user: r.username, t: r.timeoutMs, c: r.connectTimeoutMs, p: password && createHash('sha256').update(password).digest('hex') });
  let ready: Promise<unknown> | undefined;
  const store = env.keeper.keep('ratelimit.store', 'redis', fingerprint, () => {
    const s = new RedisStore({ url: r.url, username: r.username, password, timeoutMs: r.timeoutMs, connectTimeoutMs: r.connectTimeoutMs, logger: log });
    ready = s.connect().then(async (ok) => {
      if (!ok) return log.error({ url: redactUrl(r.url) }, 'rate-limit store not reachable at start: requests to limited routes fail closed (503) until it is');
      const policy = await s.checkEvictionPolicy();
      if (policy !== undefined && policy !== 'noeviction') log.warn({ policy }, 'Redis maxmemory-policy may evict counters before their window ends (S6): use noeviction');
    });
    return s;
  }, (s) => s.close());
  await ready;
  return store;
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//');
}
