/**
 * Rate-limit benchmark (not a test): `node bench/ratelimit.ts [--redis redis://127.0.0.1:6379]`.
 *
 * 1. In-memory check: MemoryStore.consume, and a whole throttle check (key from the client IP,
 *    store, decision) over 10,000 rotating client IPs — µs per check, median of 7 runs.
 * 2. Redis: one check (RedisStore.consume, the Lua script) against one PING through the same
 *    client, sequentially — the check should add one round trip and nothing more — and pipelined
 *    throughput with 64 checks in flight.
 * 3. Overload: a gateway process with a 200/s per-IP limit under 10 s of 64 concurrent clients
 *    (well over 10× the limit): status counts (429s, no 5xx) and the gateway's RSS before/after.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { Agent, request } from 'undici';
import { MemoryStore } from '../src/ratelimit/memory-store.ts';
import { RedisStore } from '../src/ratelimit/redis-store.ts';
import { compileLimit } from '../src/ratelimit/policy.ts';
import { throttleStage } from '../src/stages/throttle/index.ts';
import { mergeStageConfig } from '../src/config/merge.ts';
import { closeTestEnvs, testCtx, testEnv } from '../src/ratelimit/testing.ts';

const { values } = parseArgs({ options: { redis: { type: 'string', default: 'redis://127.0.0.1:6379' }, 'skip-load': { type: 'boolean', default: false } } });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

function timeIt(n: number, fn: (i: number) => unknown): number {
  const runs: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    runs.push(Number(process.hrtime.bigint() - t0) / 1e3 / n);
  }
  return median(runs);
}

const ips = Array.from({ length: 10_000 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
const limit = compileLimit({ id: 'bench', limit: 1000, window: 1 });
const store = new MemoryStore({ sweepMs: 0 });
const item = { emissionMs: limit.emissionMs, burst: limit.burst };
const storeUs = timeIt(200_000, (i) => store.consume([{ key: `rampart:rl:throttle:bench:ip=${ips[i % 10_000]}`, ...item }], 0));
const stage = await throttleStage.compile(mergeStageConfig(throttleStage.defaults, { limits: [{ id: 'bench', limit: 1000, window: 1 }] }), testEnv());
const ctxs = ips.map((ip) => testCtx({ ip }));
const stageUs = timeIt(200_000, (i) => stage.onRequest!(ctxs[i % 10_000]!));
const ctxs6 = ips.map((_, i) => testCtx({ ip: `2001:db8:${i.toString(16)}:1::${i.toString(16)}` }));
const stage6Us = timeIt(200_000, (i) => stage.onRequest!(ctxs6[i % 10_000]!));
await closeTestEnvs();
console.log(`memory: store.consume ${storeUs.toFixed(3)} µs; throttle check (IPv4 key) ${stageUs.toFixed(3)} µs; (IPv6 /64 key) ${stage6Us.toFixed(3)} µs`);

const redisStore = new RedisStore({ url: values.redis });
if (await redisStore.connect()) {
  const raw = new Redis(values.redis);
  const seq = async (n: number, fn: (i: number) => Promise<unknown>) => {
    const runs: number[] = [];
    for (let r = 0; r < 5; r++) {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await fn(i);
      runs.push(Number(process.hrtime.bigint() - t0) / 1e3 / n);
    }
    return median(runs);
  };
  const prefix = `rampart-bench-${process.pid}`;
  const pingUs = await seq(3000, () => raw.ping());
  const checkUs = await seq(3000, (i) => redisStore.consume([{ key: `${prefix}:${ips[i % 10_000]}`, ...limit }], 0));
  const t0 = process.hrtime.bigint();
  let done = 0;
  await Promise.all(Array.from({ length: 64 }, async (_, w) => {
    for (let i = w; i < 50_000; i += 64) {
      await redisStore.consume([{ key: `${prefix}:${ips[i % 10_000]}`, ...limit }], 0);
      done++;
    }
  }));
  const perSec = done / (Number(process.hrtime.bigint() - t0) / 1e9);
  console.log(`redis: PING round trip ${pingUs.toFixed(1)} µs; one check ${checkUs.toFixed(1)} µs (check − ping ${(checkUs - pingUs).toFixed(1)} µs); pipelined, 64 in flight: ${Math.round(perSec)} checks/s`);
  let cursor = '0';
  do {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await raw.del(...keys);
  } while (cursor !== '0');
  raw.disconnect();
} else console.log(`redis: ${values.redis} not reachable, skipped`);
await redisStore.close();

if (!values['skip-load']) await overload();

async function overload(): Promise<void> {
  const upstream = http.createServer((_req, res) => res.end('{"ok":true}'));
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const upPort = (upstream.address() as { port: number }).port;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'rampart-rl-bench-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  writeFileSync(path.join(dir, 'rampart.yaml'), `
dataDir: ${dir}/data
logging: { level: error }
listeners:
  - { name: tls, port: 0, protocol: https, tls: { dev: true } }
  - { name: plain, port: ${port}, protocol: http, insecure: true, limits: { maxRequestsPerSocket: 0 } }
upstreams: [{ id: up, targets: [{ url: "http://127.0.0.1:${upPort}" }] }]
routes:
  - { id: r, path: /hello, upstream: up, throttle: { limits: [{ id: per-ip, limit: 200, window: 1s }] } }
`);
  const child = spawn(process.execPath, ['src/cli/main.ts', 'start', '--config', path.join(dir, 'rampart.yaml')], { stdio: 'ignore' });
  const origin = `http://127.0.0.1:${port}`;
  try {
    for (let i = 0; i < 100; i++) {
      if (await request(`${origin}/hello`).then((r) => r.body.dump().then(() => true), () => false)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const rss = () => Number(readFileSync(`/proc/${child.pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) / 1024;
    await new Promise((r) => setTimeout(r, 1100));
    const before = rss();
    const agent = new Agent({ connections: 64, pipelining: 1 });
    const counts = new Map<number, number>();
    const end = Date.now() + 10_000;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (Date.now() < end) {
        const r = await request(`${origin}/hello`, { dispatcher: agent }).catch(() => undefined);
        const s = r?.statusCode ?? 0;
        await r?.body.dump();
        counts.set(s, (counts.get(s) ?? 0) + 1);
      }
    }));
    await agent.close();
    const after = rss();
    const total = [...counts.values()].reduce((a, b) => a + b, 0);
    console.log(`overload (10 s, 64 clients, limit 200/s): ${Math.round(total / 10)} req/s offered (${(total / 10 / 200).toFixed(1)}× the limit); statuses ${JSON.stringify(Object.fromEntries(counts))}; gateway RSS ${before.toFixed(0)} → ${after.toFixed(0)} MB`);
  } finally {
    child.kill('SIGTERM');
    upstream.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
