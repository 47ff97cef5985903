/**
 * Clients that go away while the gateway waits for the upstream: the process survives, the upstream
 * request is aborted, nothing stays in flight, and the access log says so (review finding #1).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { startTestGateway } from '../helpers/gateway.ts';

async function slowUpstream() {
  let closed = 0;
  let arrived = 0;
  const server = http.createServer((req, res) => {
    arrived++;
    req.on('close', () => {
      if (!res.writableEnded) closed++;
    });
    setTimeout(() => {
      if (!res.destroyed) res.end('late');
    }, 1500);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  // Waits (bounded) until the upstream has received n requests: the client hangs up only once its
  // request is really in the upstream's hands, however loaded the machine is.
  const arrivedAt = async (n: number) => {
    const deadline = Date.now() + 10_000;
    while (arrived < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, closed: () => closed, arrivedAt, close: () => { server.closeAllConnections(); server.close(); } };
}

const cfg = (url: string) => `
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
upstreams:
  - { id: slow, targets: [{ url: ${url} }], retries: { attempts: 0 } }
routes:
  - { id: slow, path: /slow, methods: [GET], upstream: slow }
`;

test('a client that hangs up (HTTP/1.1 and HTTP/2) while the upstream is slow: no crash, upstream aborted, nothing in flight', async () => {
  const up = await slowUpstream();
  const t = await startTestGateway(cfg(up.url));
  try {
    const ca = await t.ca();
    // HTTP/1.1: send the request, then close the socket before the upstream answers.
    await new Promise<void>((resolve) => {
      const s = tls.connect({ port: t.port(), host: '127.0.0.1', servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] }, () => {
        s.write('GET /slow HTTP/1.1\r\nHost: localhost\r\nx-request-id: abort-h1\r\n\r\n');
        void up.arrivedAt(1).then(() => {
          s.destroy();
          resolve();
        });
      });
      s.on('error', () => undefined);
    });
    // HTTP/2: open a stream, then cancel it.
    const session = http2.connect(t.origin(), { ca });
    const stream = session.request({ ':path': '/slow', 'x-request-id': 'abort-h2' });
    stream.on('error', () => undefined);
    await up.arrivedAt(2);
    stream.close(http2.constants.NGHTTP2_CANCEL);
    // Bounded wait for the gateway to notice both and settle.
    const settle = Date.now() + 10_000;
    while ((up.closed() < 2 || t.gw.inflight() > 0) && Date.now() < settle) await new Promise((r) => setTimeout(r, 20));
    session.close();
    // Still alive and serving.
    const again = await t.fetch('/slow');
    assert.equal(again.status, 200);
    assert.equal(t.gw.inflight(), 0);
    assert.ok(up.closed() >= 2, `upstream saw ${up.closed()} aborted requests`);
    for (const id of ['abort-h1', 'abort-h2']) {
      const line = t.logs.find((l) => l.requestId === id && l.log === 'access');
      assert.ok(line, `access line for ${id}`);
      assert.equal(line.aborted, true);
      assert.equal(line.status, 499);
    }
  } finally {
    await t.close();
    up.close();
  }
});

test('junk after a proxied request on the same connection does not crash the gateway', async () => {
  const up = await slowUpstream();
  const t = await startTestGateway(cfg(up.url));
  try {
    const ca = await t.ca();
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve) => {
        const s = tls.connect({ port: t.port(), host: '127.0.0.1', servername: 'localhost', ca, ALPNProtocols: ['http/1.1'] }, () => {
          s.write('GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\ngarbage\r\n\r\n');
        });
        s.on('data', () => undefined);
        s.on('error', () => undefined);
        s.on('close', () => resolve());
        setTimeout(() => s.destroy(), 2500);
      });
    }
    assert.equal((await t.fetch('/slow')).status, 200);
    assert.equal(t.gw.inflight(), 0);
  } finally {
    await t.close();
    up.close();
  }
});
