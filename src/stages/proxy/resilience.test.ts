/**
 * Failure handling against real sockets: connect failures, timeouts, retries, round-robin,
 * passive and active health checks, the circuit breaker, and state kept across a reload.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { Keeper } from '../../core/keeper.ts';
import { onSecurityEvent, type SecurityEvent } from '../../observe/events.ts';
import { call, closeServer, listen, startGateway, startUpstream, upstreamConfig, type TestGateway } from './test-harness.ts';

const cleanup: Array<() => Promise<void>> = [];
after(async () => {
  for (const fn of cleanup.reverse()) await fn();
});

async function upstream(handler?: Parameters<typeof startUpstream>[0]) {
  const u = await startUpstream(handler);
  cleanup.push(() => closeServer(u.server));
  return u;
}
async function gateway(opts: Parameters<typeof startGateway>[0]): Promise<TestGateway> {
  const g = await startGateway(opts);
  cleanup.push(() => g.close());
  return g;
}
/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const s = http.createServer();
  const port = await listen(s);
  await closeServer(s);
  return port;
}
async function waitFor(cond: () => boolean, ms = 3_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const hangUp: Parameters<typeof startUpstream>[0] = (req) => req.socket.destroy();

describe('timeouts and connection failures', () => {
  test('a refused connection is 502 RAMPART_UPSTREAM_CONNECT_FAILED', async () => {
    const gw = await gateway({ upstream: upstreamConfig('dead', [`http://127.0.0.1:${await closedPort()}`], { retries: { attempts: 0, backoffMs: 0 } }) });
    const res = await call(`${gw.url}/x`);
    assert.equal(res.status, 502);
    assert.equal(res.json().code, 'RAMPART_UPSTREAM_CONNECT_FAILED');
    assert.ok(!res.body.toString().includes('ECONNREFUSED'), 'no undici text to the client');
    assert.ok(gw.logs.some((l) => l.reason === 'upstream ECONNREFUSED'), 'the private reason is logged');
  });

  test('no response headers within headersMs is 504 RAMPART_UPSTREAM_TIMEOUT', async () => {
    const up = await upstream((_req, res) => setTimeout(() => res.end('late'), 1_500).unref());
    const gw = await gateway({ upstream: upstreamConfig('slow', [up.url], { retries: { attempts: 0, backoffMs: 0 } }), proxy: { timeouts: { headersMs: 150 } } });
    const res = await call(`${gw.url}/x`);
    assert.equal(res.status, 504);
    assert.equal(res.json().code, 'RAMPART_UPSTREAM_TIMEOUT');
  });

  test('a body that stalls past bodyMs aborts the client response and is logged', async () => {
    const up = await upstream((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first bytes');
      setTimeout(() => res.end('never'), 1_500).unref();
    });
    const gw = await gateway({ upstream: upstreamConfig('stall', [up.url]), proxy: { timeouts: { bodyMs: 200 } } });
    await assert.rejects(call(`${gw.url}/x`), /aborted|ECONNRESET|socket hang up/);
    await waitFor(() => gw.logs.some((l) => l.code === 'RAMPART_UPSTREAM_TIMEOUT' && l.reason === 'upstream body timeout'));
  });
});

describe('retries', () => {
  test('GET is retried on another target when no response byte was received', async () => {
    const bad = await upstream(hangUp);
    const good = await upstream();
    const gw = await gateway({ upstream: upstreamConfig('retry-get', [bad.url, good.url]) });
    const res = await call(`${gw.url}/x`);
    assert.equal(res.status, 200);
    assert.equal(bad.seen.length, 1);
    assert.equal(good.seen.length, 1);
    assert.deepEqual(gw.logEntries.get('req-1'), { upstreamTarget: good.url, upstreamAttempts: 2 });
  });

  test('a refused connection is retried on the other target', async () => {
    const good = await upstream();
    const gw = await gateway({ upstream: upstreamConfig('retry-refused', [`http://127.0.0.1:${await closedPort()}`, good.url]) });
    assert.equal((await call(`${gw.url}/x`, { method: 'DELETE' })).status, 200);
  });

  test('POST and PATCH are never retried', async () => {
    for (const method of ['POST', 'PATCH']) {
      const bad = await upstream(hangUp);
      const good = await upstream();
      const gw = await gateway({ upstream: upstreamConfig(`no-retry-${method.toLowerCase()}`, [bad.url, good.url]) });
      const res = await call(`${gw.url}/x`, { method, body: 'once' });
      assert.equal(res.status, 502, method);
      assert.equal(bad.seen.length, 1);
      assert.equal(good.seen.length, 0);
    }
  });

  test('an idempotent request with a streamed body is not retried', async () => {
    const bad = await upstream(hangUp);
    const good = await upstream();
    const gw = await gateway({ upstream: upstreamConfig('no-retry-stream', [bad.url, good.url]) });
    const res = await call(`${gw.url}/x`, { method: 'PUT', body: 'streamed', headers: { 'transfer-encoding': 'chunked' } });
    assert.equal(res.status, 502);
    assert.equal(good.seen.length, 0);
  });

  test('retries are bounded by retries.attempts', async () => {
    const bad = await upstream(hangUp);
    const gw = await gateway({ upstream: upstreamConfig('bounded', [bad.url], { retries: { attempts: 2, backoffMs: 1 } }) });
    const res = await call(`${gw.url}/x`);
    assert.equal(res.status, 502);
    assert.equal(res.json().code, 'RAMPART_UPSTREAM_PROTOCOL_ERROR', 'closed without an answer');
    assert.equal(bad.seen.length, 3);
  });
});

describe('load balancing and health', () => {
  test('round-robin follows the target weights', async () => {
    const a = await upstream();
    const b = await upstream();
    const cfg = upstreamConfig('rr', [a.url, b.url]);
    const gw = await gateway({ upstream: { ...cfg, targets: [{ url: a.url, weight: 3 }, { url: b.url, weight: 1 }] } });
    for (let i = 0; i < 8; i++) assert.equal((await call(`${gw.url}/x`)).status, 200);
    assert.equal(a.seen.length, 6);
    assert.equal(b.seen.length, 2);
  });

  test('passive: consecutive 5xx eject a target for ejectMs', async () => {
    const a = await upstream((_req, res) => {
      res.statusCode = 500;
      res.end('boom');
    });
    const b = await upstream();
    const gw = await gateway({
      upstream: upstreamConfig('passive', [a.url, b.url], { retries: { attempts: 0, backoffMs: 0 }, health: { passive: { unhealthyThreshold: 2, ejectMs: 400 } } }),
    });
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await call(`${gw.url}/x`)).status);
    assert.deepEqual(statuses, [500, 200, 500, 200, 200, 200, 200, 200]);
    assert.equal(a.seen.length, 2);
    await sleep(450);
    await call(`${gw.url}/x`);
    await call(`${gw.url}/x`);
    assert.equal(a.seen.length, 3, 'tried again once ejectMs has passed');
  });

  test('no available target is 503 RAMPART_UPSTREAM_UNAVAILABLE with Retry-After', async () => {
    const gw = await gateway({
      upstream: upstreamConfig('none-left', [`http://127.0.0.1:${await closedPort()}`], { retries: { attempts: 0, backoffMs: 0 }, health: { passive: { unhealthyThreshold: 1, ejectMs: 2_000 } } }),
    });
    assert.equal((await call(`${gw.url}/x`)).status, 502);
    const res = await call(`${gw.url}/x`);
    assert.equal(res.status, 503);
    assert.equal(res.json().code, 'RAMPART_UPSTREAM_UNAVAILABLE');
    assert.equal(res.headers['retry-after'], '2');
  });

  test('active: a killed target is taken out by its health checks and back in once restarted', async () => {
    let aServer = await upstream();
    const port = aServer.port;
    const b = await upstream();
    const active = { path: '/health', intervalMs: 200, timeoutMs: 150, healthyThreshold: 1, unhealthyThreshold: 1, expectStatus: [200] };
    const gw = await gateway({
      upstream: upstreamConfig('active', [aServer.url, b.url], { retries: { attempts: 0, backoffMs: 0 }, health: { active, passive: { unhealthyThreshold: 1_000, ejectMs: 10_000 } } }),
    });
    await waitFor(() => aServer.seen.some((s) => s.url === '/health'));
    await closeServer(aServer.server);
    await waitFor(() => gw.logs.some((l) => l.msg === 'upstream target failed its health checks'));
    const before = b.seen.filter((s) => s.url === '/x').length;
    for (let i = 0; i < 4; i++) assert.equal((await call(`${gw.url}/x`)).status, 200, 'every request goes to the live target');
    assert.equal(b.seen.filter((s) => s.url === '/x').length, before + 4);
    aServer = await startUpstream(undefined, { port });
    cleanup.push(() => closeServer(aServer.server));
    await waitFor(() => gw.logs.some((l) => l.msg === 'upstream target passed its health checks'));
    for (let i = 0; i < 4; i++) await call(`${gw.url}/x`);
    assert.equal(aServer.seen.filter((s) => s.url === '/x').length, 2, 'back in the rotation');
  });
});

describe('circuit breaker', () => {
  test('opens on failures, refuses without contacting the upstream, half-opens and closes again', async () => {
    const events: SecurityEvent[] = [];
    const off = onSecurityEvent((e) => events.push(e));
    cleanup.push(async () => off());
    let failing = true;
    const up = await upstream((_req, res) => {
      res.statusCode = failing ? 502 : 200;
      res.end();
    });
    const breaker = { failureRatio: 0.5, minimumRequests: 3, windowMs: 10_000, openMs: 300, halfOpenRequests: 1 };
    const gw = await gateway({ upstream: upstreamConfig('cb', [up.url], { circuitBreaker: breaker, retries: { attempts: 0, backoffMs: 0 } }) });
    for (let i = 0; i < 3; i++) assert.equal((await call(`${gw.url}/x`)).status, 502);
    const refused = await call(`${gw.url}/x`);
    assert.equal(refused.status, 503);
    assert.equal(refused.json().code, 'RAMPART_UPSTREAM_UNAVAILABLE');
    assert.equal(refused.headers['retry-after'], '1');
    assert.equal(up.seen.length, 3, 'an open circuit does not reach the upstream');
    failing = false;
    await sleep(350);
    assert.equal((await call(`${gw.url}/x`)).status, 200, 'the half-open probe');
    assert.equal((await call(`${gw.url}/x`)).status, 200);
    const actions = events.filter((e) => e['event.reason']?.startsWith('upstream cb:')).map((e) => e['event.action']);
    assert.deepEqual(actions, ['proxy.circuit_open', 'proxy.circuit_closed']);
  });

  test('a reload with unchanged settings keeps the breaker (and pools); changed settings make new ones', async () => {
    const up = await upstream((_req, res) => {
      res.statusCode = 500;
      res.end();
    });
    const keeper = new Keeper();
    cleanup.push(() => keeper.closeAll());
    const breaker = { failureRatio: 0.5, minimumRequests: 2, windowMs: 10_000, openMs: 60_000, halfOpenRequests: 1 };
    const cfg = upstreamConfig('reload', [up.url], { circuitBreaker: breaker, retries: { attempts: 0, backoffMs: 0 } });
    const gen1 = await gateway({ upstream: cfg, keeper });
    await call(`${gen1.url}/x`);
    await call(`${gen1.url}/x`);
    assert.equal((await call(`${gen1.url}/x`)).status, 503);
    const gen2 = await gateway({ upstream: { ...cfg }, keeper });
    assert.equal((await call(`${gen2.url}/x`)).status, 503, 'same settings: the open circuit survives the reload');
    const gen3 = await gateway({ upstream: { ...cfg, circuitBreaker: { ...breaker, openMs: 59_000 } }, keeper });
    assert.equal((await call(`${gen3.url}/x`)).status, 500, 'changed settings: a fresh breaker');
  });
});
