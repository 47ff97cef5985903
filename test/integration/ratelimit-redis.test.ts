/**
 * Counters shared through a real Redis: two gateway processes on the machine's Redis hold one
 * global limit (bounded bursts, admitted count within 5 % of the limit), and a Redis that stops
 * mid-run (a throwaway server of this test, never the shared one) makes limited routes fail
 * closed with 503 problem+json — no crash — until it is back.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Agent, request } from 'undici';
import { startEcho, type EchoServer } from '../helpers/upstream.ts';
import { startTestGateway } from '../helpers/gateway.ts';
import { SHARED_REDIS_URL, deletePrefix, freePort, throwawayRedis, uniquePrefix } from '../helpers/redis.ts';

const prefix = uniquePrefix();
const children: ChildProcess[] = [];
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
  for (const f of cleanups) await f().catch(() => undefined);
  await deletePrefix(prefix);
});

async function startProcess(dir: string, name: string, echo: EchoServer): Promise<string> {
  const port = await freePort();
  const file = path.join(dir, `${name}.yaml`);
  await writeFile(file, `
dataDir: ${path.join(dir, name)}
rateLimit: { store: redis, keyPrefix: ${prefix}, redis: { url: "${SHARED_REDIS_URL}" } }
logging: { level: warn }
listeners:
  - { name: tls, port: 0, protocol: https, tls: { dev: true } }
  - { name: plain, port: ${port}, protocol: http, insecure: true }
upstreams: [{ id: echo, targets: [{ url: ${echo.url} }] }]
routes:
  - { id: limited, path: /limited, upstream: echo, throttle: { limits: [{ id: global, limit: 100, window: 1h }] } }
`);
  const child = spawn(process.execPath, ['src/cli/main.ts', 'start', '--config', file], { cwd: process.cwd(), stdio: ['ignore', 'ignore', 'pipe'] });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const origin = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`gateway ${name} exited: ${stderr}`);
    const up = await request(`${origin}/nothing`).then((r) => r.body.dump().then(() => true), () => false);
    if (up) return origin;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`gateway ${name} did not start: ${stderr}`);
}

test('two gateway processes on one Redis hold one global limit (admitted within 5 % of it)', async () => {
  const echo = await startEcho();
  cleanups.push(() => echo.close());
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rampart-rl-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const [a, b] = await Promise.all([startProcess(dir, 'a', echo), startProcess(dir, 'b', echo)]);
  const agent = new Agent({ connections: 16 });
  cleanups.push(() => agent.close());
  const statuses: number[] = [];
  // A bounded burst: 300 requests, 150 to each instance, 16 at a time per instance.
  await Promise.all([a, b].flatMap((origin) => Array.from({ length: 16 }, async (_, w) => {
    for (let i = w; i < 150; i += 16) {
      const r = await request(`${origin}/limited`, { dispatcher: agent });
      await r.body.dump();
      statuses.push(r.statusCode);
    }
  })));
  const admitted = statuses.filter((s) => s === 200).length;
  assert.equal(statuses.length, 300);
  assert.deepEqual([...new Set(statuses)].sort(), [200, 429], 'only admissions and 429s, no 5xx');
  assert.ok(Math.abs(admitted - 100) <= 5, `admitted ${admitted} of a global limit of 100`);
  const ca = await readFile(path.join(dir, 'a', 'tls', 'ca.crt'), 'utf8');
  assert.ok(ca.includes('BEGIN CERTIFICATE'));
});

test('Redis stopped mid-run: 503 problem+json (fail closed), no crash; recovery once it is back', async () => {
  const redis = await throwawayRedis();
  cleanups.push(() => redis.stop());
  const echo = await startEcho();
  cleanups.push(() => echo.close());
  const t = await startTestGateway(`
rateLimit: { store: redis, keyPrefix: ${prefix}, redis: { url: "${redis.url}", timeoutMs: 300, connectTimeoutMs: 500 } }
listeners: [{ name: public, port: 0, protocol: https, tls: { dev: true } }]
upstreams: [{ id: echo, targets: [{ url: ${echo.url} }] }]
routes:
  - { id: limited, path: /limited, upstream: echo, throttle: { limits: [{ id: l, limit: 1000, window: 1 }] } }
  - { id: free, path: /free, upstream: echo }
`);
  cleanups.push(() => t.close());
  assert.equal((await t.fetch('/limited')).status, 200);
  await redis.stop();
  const during = [];
  for (let i = 0; i < 5; i++) during.push(await t.fetch('/limited'));
  for (const r of during) {
    assert.equal(r.status, 503);
    assert.match(String(r.headers['content-type']), /^application\/problem\+json/);
    assert.equal(r.json().code, 'RAMPART_RATELIMIT_STORE_UNAVAILABLE');
    assert.equal(r.headers['retry-after'], '2');
    assert.ok(!/redis|ECONNREFUSED|127\.0\.0\.1/i.test(r.text), 'no internal detail to the client');
  }
  assert.equal((await t.fetch('/free')).status, 200, 'the gateway itself keeps answering');
  await redis.start();
  let status = 0;
  for (let i = 0; i < 60 && status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    status = (await t.fetch('/limited')).status;
  }
  assert.equal(status, 200, 'recovers once Redis is back');
  assert.ok(t.logs.some((l) => /^rate-limit store (unreachable|connection lost)/.test(String(l.msg))), 'the outage is logged');
  assert.ok(t.logs.some((l) => l.msg === 'rate-limit store connected'), 'and the recovery');
  assert.ok(t.logs.some((l) => l.log === 'access' && l.reason === 'RAMPART_RATELIMIT_STORE_UNAVAILABLE'), 'each failed check is in the access log');
});
