/**
 * The Redis store: counters shared by every gateway instance on one Redis, so that N instances
 * hold one global limit. Each check is one Lua script (atomic, one round trip for all the limits
 * of a request; concurrent checks are pipelined by ioredis' auto-pipelining). Time is the Redis
 * server's TIME, so instances with skewed clocks still agree.
 *
 * Fail closed: no offline queue and no retries per command — while Redis is unreachable every
 * check fails at once with a StoreError (the stage answers 503 unless `onStoreError: allow`), the
 * client reconnects in the background with capped backoff, and state changes are logged once.
 */
import { Redis, type RedisOptions } from 'ioredis';
import type { Logger } from 'pino';
import { StoreError, type ConsumeItem, type ConsumeResult, type RateLimitStore } from './store.ts';
import { countersFor } from './stats.ts';

// KEYS: one per limit. ARGV: maxWait µs, now µs ('' = server TIME), then per key: T µs, burst.
// Returns: denied index (0 = none), wait µs, then per key remaining, reset µs, retry µs.
// The same arithmetic as gcra.ts, in integer microseconds.
const CONSUME = `
local n = #KEYS
local maxWait = tonumber(ARGV[1])
local now = tonumber(ARGV[2])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local res, tats, denied, wait = {}, {}, 0, 0
for i = 1, n do
  local T = tonumber(ARGV[1 + 2 * i])
  local B = tonumber(ARGV[2 + 2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]))
  if not tat or tat < now then tat = now end
  local newTat = tat + T
  local early = newTat - T * B - now
  if early > maxWait then
    if denied == 0 then denied = i end
    res[i] = { 0, tat - now, early }
  else
    local w = 0
    if early > 0 then w = early end
    if w > wait then wait = w end
    local rem = 0
    if w == 0 then rem = math.floor((now - (newTat - T * B)) / T + 1e-9) end
    res[i] = { rem, newTat - now, 0, w, B }
    tats[i] = newTat
  end
end
if denied == 0 then
  for i = 1, n do
    redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', math.ceil((tats[i] - now) / 1000) + 1)
  end
end
local out = { denied, math.floor(wait) }
for i = 1, n do
  -- Refused: nothing was taken, so the limits that would admit still hold one more.
  if denied ~= 0 and tats[i] and res[i][4] == 0 then res[i][1] = math.min(res[i][5], res[i][1] + 1) end
  out[#out + 1] = res[i][1]
  out[#out + 1] = math.floor(res[i][2])
  out[#out + 1] = math.floor(res[i][3])
end
return out
`;

// S6 login counters: one attempt more, the window restarted from it. KEYS[1]; ARGV[1] window ms.
const ATTEMPT = `
local c = redis.call('INCR', KEYS[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return c
`;

type Scripted = Redis & {
  rampartConsume(numKeys: number, ...args: Array<string | number>): Promise<Array<number>>;
  rampartAttempt(key: string, windowMs: number): Promise<number>;
};

export interface RedisStoreOptions {
  readonly url: string;
  readonly username?: string | undefined;
  readonly password?: string | undefined;
  /** Per-command timeout: a check that takes longer fails (closed). */
  readonly timeoutMs?: number;
  readonly connectTimeoutMs?: number;
  readonly logger?: Logger | undefined;
  /** Tests: a fixed time in ms instead of the server's TIME. */
  readonly now?: (() => number) | undefined;
}

export class RedisStore implements RateLimitStore {
  readonly kind = 'redis';
  readonly #redis: Scripted;
  readonly #log: Logger | undefined;
  readonly #now: (() => number) | undefined;
  #up = false;
  #closed = false;

  constructor(o: RedisStoreOptions) {
    this.#log = o.logger;
    this.#now = o.now;
    const options: RedisOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableAutoPipelining: true,
      commandTimeout: o.timeoutMs ?? 500,
      connectTimeout: o.connectTimeoutMs ?? 2000,
      retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 5), 2000),
      // Never forward Redis' own error text to anyone but the log.
      showFriendlyErrorStack: false,
      ...(o.username !== undefined && { username: o.username }),
      ...(o.password !== undefined && { password: o.password }),
    };
    this.#redis = new Redis(o.url, options) as Scripted;
    this.#redis.defineCommand('rampartConsume', { lua: CONSUME });
    this.#redis.defineCommand('rampartAttempt', { numberOfKeys: 1, lua: ATTEMPT });
    this.#redis.on('ready', () => {
      if (!this.#up) this.#log?.info({ store: 'redis' }, 'rate-limit store connected');
      this.#up = true;
    });
    this.#redis.on('error', (err: Error) => {
      countersFor('store').storeErrors++;
      if (this.#up || !this.#seenDown) this.#log?.error({ store: 'redis', err: { message: err.message } }, 'rate-limit store unreachable: limits fail closed unless onStoreError is allow');
      this.#seenDown = true;
      this.#up = false;
    });
    this.#redis.on('close', () => {
      if (this.#up && !this.#closed) this.#log?.error({ store: 'redis' }, 'rate-limit store connection lost; reconnecting');
      this.#up = false;
      this.#seenDown = true;
    });
  }

  #seenDown = false;

  get connected(): boolean {
    return this.#redis.status === 'ready';
  }

  /** Connects; resolves either way within the connect timeout (the store then fails closed). */
  async connect(): Promise<boolean> {
    try {
      await this.#redis.connect();
      return true;
    } catch {
      return false; // logged by the error handler; the client keeps reconnecting
    }
  }

  async consume(items: readonly ConsumeItem[], maxWaitMs: number): Promise<ConsumeResult> {
    const args: Array<string | number> = [items.length];
    for (const it of items) args.push(it.key);
    args.push(Math.round(maxWaitMs * 1000), this.#now ? Math.round(this.#now() * 1000) : '');
    for (const it of items) args.push(it.emissionMs * 1000, it.burst);
    let out: number[];
    try {
      out = await this.#redis.rampartConsume(...(args as [number, ...Array<string | number>]));
    } catch (err) {
      throw this.#fail(err);
    }
    const denied = (out[0] as number) - 1;
    const states = items.map((_, i) => ({
      remaining: Number(out[2 + 3 * i]),
      resetMs: Number(out[3 + 3 * i]) / 1000,
      retryAfterMs: Number(out[4 + 3 * i]) / 1000,
    }));
    return { allowed: denied === -1, waitMs: denied === -1 ? Number(out[1]) / 1000 : 0, denied, items: states };
  }

  async attempt(key: string, windowMs: number): Promise<number> {
    try {
      return Number(await this.#redis.rampartAttempt(key, Math.ceil(windowMs)));
    } catch (err) {
      throw this.#fail(err);
    }
  }

  async peek(key: string): Promise<number> {
    try {
      return Number((await this.#redis.get(key)) ?? 0);
    } catch (err) {
      throw this.#fail(err);
    }
  }

  async reset(key: string): Promise<void> {
    try {
      await this.#redis.del(key);
    } catch (err) {
      throw this.#fail(err);
    }
  }

  /** Warns when Redis may evict keys before they expire (S6: login counters must not go early). */
  async checkEvictionPolicy(): Promise<string | undefined> {
    try {
      const reply = (await this.#redis.config('GET', 'maxmemory-policy')) as unknown as string[];
      return reply[1];
    } catch {
      return undefined; // CONFIG is often disabled on managed Redis
    }
  }

  #fail(err: unknown): StoreError {
    countersFor('store').storeErrors++;
    return new StoreError(`redis: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#redis.disconnect(false);
  }
}
