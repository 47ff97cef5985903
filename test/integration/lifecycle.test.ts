/**
 * Hot reload under load, invalid reloads, graceful shutdown, slow clients, upstream failure and
 * recovery — through the real gateway.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startTestGateway } from '../helpers/gateway.ts';
import { startEcho } from '../helpers/upstream.ts';

const base = (upstream: string, routes: string, extra = '') => `
listeners:
  - name: public
    port: 0
    protocol: https
    tls: { dev: true }
    limits: { headersTimeoutMs: 1000, requestTimeoutMs: 3000 }
upstreams:
  - id: echo
    targets: [{ url: ${upstream} }]
${extra}
routes:
${routes}`;

test('hot reload under load: no failed request, the new route serves, the old one is gone', async () => {
  const echo = await startEcho();
  const t = await startTestGateway(base(echo.url, '  - { id: a, path: /a, upstream: echo }'));
  try {
    const agent = await t.agent();
    const { request } = await import('undici');
    let failures = 0;
    let done = 0;
    let stop = false;
    const statuses = new Map<number, number>();
    const worker = async () => {
      while (!stop) {
        try {
          const res = await request(`${t.origin()}/a`, { dispatcher: agent });
          await res.body.text();
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          if (res.statusCode !== 200) failures++;
        } catch {
          failures++;
        }
        done++;
      }
    };
    const workers = Array.from({ length: 8 }, worker);
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 60));
      await t.rewrite(base(echo.url, `  - { id: a, path: /a, upstream: echo }\n  - { id: b${i}, path: /b${i}, upstream: echo }`));
      const r = await t.gw.reload();
      assert.equal(r.ok, true, JSON.stringify(r.problems));
    }
    // Enough traffic around the last swap, however slow the machine (bounded).
    const target = done + 20;
    const deadline = Date.now() + 20_000;
    while (done < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    stop = true;
    await Promise.all(workers);
    assert.ok(done >= 25, `only ${done} requests`);
    assert.equal(failures, 0, `statuses ${JSON.stringify([...statuses])}`);
    assert.equal((await t.fetch('/b4')).status, 200);
    assert.equal((await t.fetch('/b0')).status, 404);
    assert.equal(t.gw.generation, 6);
  } finally {
    await t.close();
    await echo.close();
  }
});

test('an invalid reload is refused with file, line and key; the old config keeps serving', async () => {
  const echo = await startEcho();
  const t = await startTestGateway(base(echo.url, '  - { id: a, path: /a, upstream: echo }'));
  try {
    await t.rewrite(base(echo.url, '  - { id: a, path: /a, upstream: ordrs }'));
    const r = await t.gw.reload();
    assert.equal(r.ok, false);
    assert.match(r.problems.map((p) => `${p.line}:${p.path}: ${p.message}`).join('\n'), /\d+:routes\[0\]\.upstream: unknown upstream "ordrs"/);
    assert.ok(t.logs.some((l) => String(l.config).includes('unknown upstream "ordrs"')));
    assert.equal((await t.fetch('/a')).status, 200);
    assert.equal(t.gw.generation, 1);
  } finally {
    await t.close();
    await echo.close();
  }
});

test('the config file is watched: a change is picked up without SIGHUP', async () => {
  const echo = await startEcho();
  const { startTestGateway: start } = await import('../helpers/gateway.ts');
  const t = await start(base(echo.url, '  - { id: a, path: /a, upstream: echo }'), { watch: true });
  try {
    await t.rewrite(base(echo.url, '  - { id: a, path: /a, upstream: echo }\n  - { id: w, path: /watched, upstream: echo }'));
    const deadline = Date.now() + 5000;
    while (t.gw.generation === 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await t.fetch('/watched')).status, 200);
  } finally {
    await t.close();
    await echo.close();
  }
});

test('graceful shutdown: a request in flight finishes, new connections are refused', async () => {
  const echo = await startEcho();
  const t = await startTestGateway(base(echo.url, '  - { id: slow, path: "/slow/{ms}", upstream: echo }'));
  const port = t.port();
  const inflight = t.fetch('/slow/700');
  await new Promise((r) => setTimeout(r, 150));
  const closing = t.gw.close(5000);
  const res = await inflight;
  assert.equal(res.status, 200);
  await closing;
  await assert.rejects(
    new Promise((resolve, reject) => {
      const s = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(s));
      s.on('error', reject);
    }),
  );
  await t.close();
  await echo.close();
});

test('a slow client (slowloris) is cut off after the headers timeout', async () => {
  const echo = await startEcho();
  const t = await startTestGateway(base(echo.url, '  - { id: a, path: /a, upstream: echo }'));
  try {
    const ca = await t.ca();
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve, reject) => {
      const s = tls.connect({ port: t.port(), host: '127.0.0.1', servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] }, () => {
        s.write('GET /a HTTP/1.1\r\nHost: localhost\r\n');
        const drip = setInterval(() => s.write('X-Drip: 1\r\n'), 200);
        s.on('close', () => {
          clearInterval(drip);
          resolve(Date.now() - started);
        });
      });
      s.on('error', () => undefined);
      setTimeout(() => reject(new Error('slow client was never cut off')), 10_000).unref();
    });
    assert.ok(closedAfter < 6000, `closed after ${closedAfter} ms`);
  } finally {
    await t.close();
    await echo.close();
  }
});

test('an upstream that is down: 502 problem+json; after restart it serves again; breaker opens on failures', async () => {
  const echo = await startEcho();
  const port = echo.port;
  const t = await startTestGateway(
    base(
      echo.url,
      '  - { id: a, path: /a, upstream: echo }',
      '    retries: { attempts: 0 }\n    health: { passive: { unhealthyThreshold: 100, ejectMs: 200 } }\n    circuitBreaker: { minimumRequests: 4, failureRatio: 0.5, openMs: 300, windowMs: 5000 }',
    ),
  );
  try {
    assert.equal((await t.fetch('/a')).status, 200);
    await echo.close();
    const down = await t.fetch('/a');
    assert.ok([502, 503].includes(down.status), `status ${down.status}`);
    assert.equal(down.headers['content-type'], 'application/problem+json');
    assert.match(down.json().code, /^RAMPART_UPSTREAM_(CONNECT_FAILED|UNAVAILABLE)$/);
    for (let i = 0; i < 5; i++) await t.fetch('/a');
    const open = await t.fetch('/a');
    assert.equal(open.status, 503, 'the breaker is open after repeated failures');
    assert.equal(open.json().code, 'RAMPART_UPSTREAM_UNAVAILABLE');
    assert.ok(open.headers['retry-after']);
    // Restart the upstream on the same port: after openMs the breaker half-opens and recovers.
    const back = http.createServer((_q, s) => s.end('{"ok":true}'));
    await new Promise<void>((r) => back.listen(port, '127.0.0.1', r));
    assert.equal((back.address() as AddressInfo).port, port);
    let status = 0;
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      status = (await t.fetch('/a')).status;
      if (status === 200) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 200);
    back.closeAllConnections();
    back.close();
  } finally {
    await t.close();
  }
});

test('upstream timeouts: a slow upstream gets 504 problem+json', async () => {
  const echo = await startEcho();
  const t = await startTestGateway(base(echo.url, '  - { id: s, path: "/slow/{ms}", methods: [GET], upstream: echo }', '    timeouts: { headersMs: 300 }\n    retries: { attempts: 0 }'));
  try {
    const res = await t.fetch('/slow/2000');
    assert.equal(res.status, 504);
    assert.equal(res.json().code, 'RAMPART_UPSTREAM_TIMEOUT');
  } finally {
    await t.close();
    await echo.close();
  }
});

test('retries: a GET is retried on another target, a POST never is', async () => {
  const good = await startEcho();
  // A target that accepts connections and closes them at once: a failure before any response byte.
  const bad = http.createServer((req) => req.socket.destroy());
  await new Promise<void>((r) => bad.listen(0, '127.0.0.1', r));
  const badUrl = `http://127.0.0.1:${(bad.address() as AddressInfo).port}`;
  const t = await startTestGateway(`
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - id: pair
    targets: [{ url: ${badUrl} }, { url: ${good.url} }]
    retries: { attempts: 1, backoffMs: 0 }
    health: { passive: { unhealthyThreshold: 100, ejectMs: 100 } }
    circuitBreaker: { minimumRequests: 1000 }
routes:
  - { id: g, path: /g, methods: [GET, POST], upstream: pair }
`);
  try {
    for (let i = 0; i < 4; i++) assert.equal((await t.fetch('/g')).status, 200, `GET ${i}`);
    const posts = [];
    for (let i = 0; i < 4; i++) posts.push((await t.fetch('/g', { method: 'POST', body: 'x' })).status);
    assert.ok(posts.some((s) => s === 502), `POSTs: ${posts.join(',')}`);
    const postsSeen = good.received.filter((r) => r.method === 'POST').length;
    assert.equal(postsSeen + posts.filter((s) => s === 502).length, 4, 'a failed POST was not replayed');
  } finally {
    await t.close();
    await good.close();
    bad.closeAllConnections();
    bad.close();
  }
});

test('an HTTP/2 stream that trickles its body is cut off at the request deadline', async () => {
  const echo = await startEcho();
  const t = await startTestGateway(base(echo.url, '  - { id: up, path: /up, methods: [POST], upstream: echo, hygiene: { maxBodyBytes: 100000 } }'));
  try {
    const { default: http2 } = await import('node:http2');
    const session = http2.connect(t.origin(), { ca: await t.ca() });
    const started = Date.now();
    const closedAfter = await new Promise<number>((resolve) => {
      const s = session.request({ ':method': 'POST', ':path': '/up' }, { endStream: false });
      const drip = setInterval(() => s.write('x'), 200);
      s.on('close', () => {
        clearInterval(drip);
        resolve(Date.now() - started);
      });
      s.on('error', () => undefined);
      s.resume();
      setTimeout(() => s.close(), 10_000).unref();
    });
    session.close();
    assert.ok(closedAfter < 8000, `closed after ${closedAfter} ms (request deadline 3000 ms)`);
    assert.equal(echo.received.filter((r) => r.url === '/up').length, 0, 'the trickled request never completed upstream');
  } finally {
    await t.close();
    await echo.close();
  }
});
