/**
 * The proxy stage against real upstream servers on loopback: methods and bodies, streaming both
 * ways, trailers, header rules, 5xx masking and the response cap.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { call, closeServer, startGateway, startUpstream, upstreamConfig, type Seen, type TestGateway } from './test-harness.ts';

const MB = 1024 * 1024;

describe('proxy forwarding', () => {
  let up: Awaited<ReturnType<typeof startUpstream>>;
  let gw: TestGateway;

  before(async () => {
    up = await startUpstream((req, res, seen: Seen) => {
      const url = new URL(req.url ?? '/', 'http://x');
      switch (url.pathname) {
        case '/echo':
          res.writeHead(201, { 'content-type': 'application/octet-stream', server: 'secret-server/1.0', 'x-powered-by': 'php', connection: 'x-private', 'x-private': 'gone', 'keep-alive': 'timeout=5', 'rampart-identity': 'echoed', 'x-kept': 'yes' });
          return res.end(seen.body);
        case '/big': {
          // A multi-MB download, written in chunks with backpressure.
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          let left = 8 * MB;
          const chunk = Buffer.alloc(64 * 1024, 7);
          const write = (): void => {
            while (left > 0) {
              left -= chunk.length;
              if (!res.write(chunk)) return void res.once('drain', write);
            }
            res.end();
          };
          return write();
        }
        case '/trailers':
          res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum, grpc-status' });
          res.write('part1;');
          res.write('part2');
          res.addTrailers({ 'x-checksum': 'abc123', 'grpc-status': '0', 'set-cookie': 'late=1' });
          return res.end();
        case '/fail':
          res.writeHead(500, { 'content-type': 'text/plain' });
          return res.end('java.lang.NullPointerException at com.internal.Secret(Secret.java:42)');
        case '/busy':
          res.writeHead(503, { 'retry-after': '7', 'content-type': 'text/plain' });
          return res.end('db pool exhausted on db-7.internal');
        case '/client-error':
          res.writeHead(404, { 'content-type': 'application/json' });
          return res.end('{"error":"no such order"}');
        case '/huge-declared':
          res.writeHead(200, { 'content-length': String(2 * MB) });
          return res.end(Buffer.alloc(2 * MB));
        case '/huge-chunked':
          res.writeHead(200, { 'content-type': 'application/octet-stream' });
          res.write(Buffer.alloc(600 * 1024));
          res.write(Buffer.alloc(600 * 1024));
          return res.end();
        default:
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end(JSON.stringify({ method: req.method, url: req.url, bytes: seen.bytes }));
      }
    });
    gw = await startGateway({ upstream: upstreamConfig('orders', [up.url], { maxResponseBytes: MB }) });
  });
  after(async () => {
    await gw.close();
    await closeServer(up.server);
  });

  test('forwards every method with its body, path and query', async () => {
    for (const method of ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']) {
      const body = ['POST', 'PUT', 'PATCH'].includes(method) ? `payload-${method}` : undefined;
      const res = await call(`${gw.url}/items/a%20b/./c?x=1&y=%2F`, { method, ...(body !== undefined && { body }) });
      assert.equal(res.status, 200, method);
      const last = up.seen.at(-1)!;
      assert.equal(last.method, method);
      assert.equal(last.url, '/items/a%20b/c?x=1&y=%2F', 'the normalised path, re-encoded, and the query as received');
      assert.equal(last.body.toString(), body ?? '');
      if (method !== 'HEAD') assert.equal(res.json().method, method);
    }
  });

  test('returns the upstream status, body and end-to-end headers; drops hop-by-hop, banner and Rampart-*', async () => {
    const res = await call(`${gw.url}/echo`, { method: 'POST', body: 'hello' });
    assert.equal(res.status, 201);
    assert.equal(res.body.toString(), 'hello');
    assert.equal(res.headers['x-kept'], 'yes');
    for (const h of ['server', 'x-powered-by', 'x-private', 'keep-alive', 'rampart-identity']) assert.equal(res.headers[h], undefined, h);
  });

  test('streams a multi-MB upload without buffering it', async () => {
    const size = 6 * MB;
    const hash = createHash('sha256');
    let sent = 0;
    const source = new Readable({
      read() {
        if (sent >= size) return void this.push(null);
        const chunk = Buffer.alloc(64 * 1024, sent % 251);
        hash.update(chunk);
        sent += chunk.length;
        this.push(chunk);
      },
    });
    const res = await call(`${gw.url}/upload`, { method: 'PUT', body: source, headers: { 'transfer-encoding': 'chunked' }, timeoutMs: 10_000 });
    assert.equal(res.status, 200);
    assert.equal(res.json().bytes, size);
    const last = up.seen.at(-1)!;
    assert.equal(last.bytes, size);
    assert.equal(createHash('sha256').update(last.body).digest('hex'), hash.digest('hex'));
  });

  test('streams a multi-MB download through (cap raised for this route)', async () => {
    const big = await startGateway({ upstream: upstreamConfig('orders-big', [up.url], { maxResponseBytes: 16 * MB }) });
    try {
      const before = process.memoryUsage().arrayBuffers;
      const res = await call(`${big.url}/big`, { timeoutMs: 10_000 });
      assert.equal(res.status, 200);
      assert.equal(res.body.length, 8 * MB);
      assert.ok(process.memoryUsage().arrayBuffers - before < 64 * MB);
    } finally {
      await big.close();
    }
  });

  test('forwards HTTP/1.1 trailers, minus fields not allowed in trailers', async () => {
    const res = await call(`${gw.url}/trailers`);
    assert.equal(res.body.toString(), 'part1;part2');
    assert.equal(res.trailers['x-checksum'], 'abc123');
    assert.equal(res.trailers['grpc-status'], '0');
    assert.equal(res.trailers['set-cookie'], undefined);
  });

  test('S11: an upstream 5xx becomes problem+json RAMPART_UPSTREAM_ERROR with the same status', async () => {
    const res = await call(`${gw.url}/fail`);
    assert.equal(res.status, 500);
    assert.equal(res.headers['content-type'], 'application/problem+json');
    const doc = res.json();
    assert.equal(doc.code, 'RAMPART_UPSTREAM_ERROR');
    assert.equal(doc.status, 500);
    assert.ok(!res.body.toString().includes('NullPointer'));
    const busy = await call(`${gw.url}/busy`);
    assert.equal(busy.status, 503);
    assert.equal(busy.headers['retry-after'], '7');
    assert.ok(!busy.body.toString().includes('db-7'));
  });

  test('S11: an upstream 4xx body is masked by default, its status kept; passUpstreamErrors passes the classes it names', async () => {
    const res = await call(`${gw.url}/client-error`);
    assert.equal(res.status, 404);
    assert.equal(res.json().code, 'RAMPART_UPSTREAM_REJECTED');
    assert.ok(!res.body.toString().includes('no such order'));
    const open = await startGateway({ upstream: upstreamConfig('orders-open', [up.url]), proxy: { passUpstreamErrors: ['4xx', '5xx'] } });
    try {
      const four = await call(`${open.url}/client-error`);
      assert.equal(four.body.toString(), '{"error":"no such order"}');
      const fail = await call(`${open.url}/fail`);
      assert.equal(fail.status, 500);
      assert.match(fail.body.toString(), /NullPointer/);
      assert.ok(open.logs.some((l) => String(l.msg).includes('passUpstreamErrors')), 'the relaxation is logged');
    } finally {
      await open.close();
    }
  });

  test('S11: a Content-Length above maxResponseBytes is a 502; a stream passing it is cut', async () => {
    const res = await call(`${gw.url}/huge-declared`);
    assert.equal(res.status, 502);
    assert.equal(res.json().code, 'RAMPART_UPSTREAM_RESPONSE_TOO_LARGE');
    await assert.rejects(call(`${gw.url}/huge-chunked`), /aborted|socket hang up|ECONNRESET/);
    await waitFor(() => gw.logs.some((l) => l.code === 'RAMPART_UPSTREAM_RESPONSE_TOO_LARGE' && l.msg === 'upstream response body aborted mid-stream'));
  });

  test('a request body past the route limit is denied with 413 before any response', async () => {
    const small = await startGateway({ upstream: upstreamConfig('orders-small', [up.url]), maxBodyBytes: 1024 });
    try {
      const res = await call(`${small.url}/upload`, { method: 'POST', body: Buffer.alloc(64 * 1024, 1), headers: { 'transfer-encoding': 'chunked' } });
      assert.equal(res.status, 413);
      assert.equal(res.json().code, 'RAMPART_HYGIENE_BODY_TOO_LARGE');
    } finally {
      await small.close();
    }
  });

  test('a streamed body passing the route limit mid-upload is denied with 413', async () => {
    const small = await startGateway({ upstream: upstreamConfig('orders-mid', [up.url]), maxBodyBytes: 100 * 1024 });
    try {
      let sent = 0;
      const source = new Readable({
        read() {
          if (sent >= MB) return void this.push(null);
          sent += 16 * 1024;
          this.push(Buffer.alloc(16 * 1024, 2));
        },
      });
      const res = await call(`${small.url}/upload`, { method: 'POST', body: source, headers: { 'transfer-encoding': 'chunked' } }).catch((e: Error) => e);
      // The gateway may answer before the client has finished sending; either way nothing was proxied back.
      if (!(res instanceof Error)) {
        assert.equal(res.status, 413);
        assert.equal(res.json().code, 'RAMPART_HYGIENE_BODY_TOO_LARGE');
      }
      assert.ok(!small.logs.some((l) => l.msg === 'upstream request failed'), 'not counted against the upstream');
    } finally {
      await small.close();
    }
  });

  test('a client that aborts mid-upload leaves the gateway serving', async () => {
    const source = new Readable({ read() {} });
    source.push(Buffer.alloc(32 * 1024, 3));
    const pending = call(`${gw.url}/upload`, { method: 'PUT', body: source, headers: { 'transfer-encoding': 'chunked' }, timeoutMs: 300 });
    await assert.rejects(pending);
    const res = await call(`${gw.url}/after`);
    assert.equal(res.status, 200);
  });

  test('a HEAD answer declaring a length above the cap is not refused', async () => {
    const res = await call(`${gw.url}/huge-declared`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(2 * MB));
  });

  test('a body a stage has read is sent buffered, the same bytes', async () => {
    const buffered = await startGateway({ upstream: upstreamConfig('orders-buf', [up.url]), readBody: true });
    try {
      const res = await call(`${buffered.url}/echo`, { method: 'PATCH', body: '{"a":1}', headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 201);
      assert.equal(res.body.toString(), '{"a":1}');
      assert.equal(up.seen.at(-1)!.headers['content-length'], '7');
    } finally {
      await buffered.close();
    }
  });
});

describe('proxy request headers', () => {
  let up: Awaited<ReturnType<typeof startUpstream>>;
  after(async () => closeServer(up.server));
  before(async () => {
    up = await startUpstream();
  });

  const send = (gw: TestGateway, headers: Record<string, string>) => call(`${gw.url}/h`, { headers: { host: 'api.example.com', ...headers } });

  test('drops credentials and forged headers, sets the forwarding record and Rampart-Identity', async () => {
    const gw = await startGateway({ upstream: upstreamConfig('svc', [up.url]) });
    try {
      await send(gw, {
        authorization: 'Bearer client-token',
        'x-api-key': 'rmp_secret',
        'proxy-authorization': 'Basic x',
        'rampart-identity': 'forged.jwt.token',
        'rampart-anything': 'x',
        'x-forwarded-for': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
        'x-forwarded-host': 'evil.example',
        'x-real-ip': '6.6.6.6',
        'x-original-url': '/admin',
        'x-request-id': 'client-chosen',
        cookie: 'a=1',
        'x-custom': 'kept',
      });
      const h = up.seen.at(-1)!.headers;
      for (const name of ['authorization', 'x-api-key', 'proxy-authorization', 'rampart-anything', 'x-real-ip', 'x-original-url']) assert.equal(h[name], undefined, name);
      assert.equal(h['rampart-identity'], 'signed:anonymous:anonymous:svc:7', 'our token, never the forged one, on every request');
      assert.equal(h['x-forwarded-for'], '127.0.0.1', 'no trusted proxy in front: replaced');
      assert.equal(h.forwarded, 'for=127.0.0.1;host=api.example.com;proto=https');
      assert.equal(h['x-forwarded-proto'], 'https');
      assert.equal(h['x-forwarded-host'], 'api.example.com');
      assert.equal(h['x-request-id'], 'req-1');
      assert.equal(h.traceparent, '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
      assert.equal(h.host, `127.0.0.1:${up.port}`, "Host is the target's");
      assert.equal(h.cookie, 'a=1');
      assert.equal(h['x-custom'], 'kept');
    } finally {
      await gw.close();
    }
  });

  test('behind a trusted proxy X-Forwarded-For keeps the hops from the client on and appends the peer', async () => {
    const gw = await startGateway({ upstream: upstreamConfig('svc2', [up.url]), trustedProxies: ['127.0.0.1'] });
    try {
      await send(gw, { 'x-forwarded-for': '6.6.6.6, 203.0.113.9' });
      const h = up.seen.at(-1)!.headers;
      assert.equal(h['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
      assert.equal(h.forwarded, 'for=203.0.113.9;host=api.example.com;proto=https');
      await send(gw, { 'x-forwarded-for': '2001:db8::7' });
      assert.equal(up.seen.at(-1)!.headers.forwarded, 'for="[2001:db8::7]";host=api.example.com;proto=https');
    } finally {
      await gw.close();
    }
  });

  test('forwardCredentials and preserveHost, when a route asks for them', async () => {
    const gw = await startGateway({ upstream: upstreamConfig('svc3', [up.url]), proxy: { forwardCredentials: true, preserveHost: true } });
    try {
      await send(gw, { authorization: 'Bearer t', 'x-api-key': 'k', 'proxy-authorization': 'Basic x' });
      const h = up.seen.at(-1)!.headers;
      assert.equal(h.authorization, 'Bearer t');
      assert.equal(h['x-api-key'], undefined, 'API keys are never forwarded, even with forwardCredentials');
      assert.equal(h['proxy-authorization'], undefined, 'addressed to the gateway, never forwarded');
      assert.equal(h.host, 'api.example.com');
      assert.ok(gw.logs.some((l) => String(l.msg).includes('forwardCredentials')));
    } finally {
      await gw.close();
    }
  });

  test('stripPrefix removes the route prefix on a segment boundary', async () => {
    const gw = await startGateway({ upstream: upstreamConfig('svc4', [up.url]), route: { path: '/api/*', stripPrefix: '/api' } });
    try {
      await call(`${gw.url}/api/orders/1?q=2`);
      assert.equal(up.seen.at(-1)!.url, '/orders/1?q=2');
      await call(`${gw.url}/api`);
      assert.equal(up.seen.at(-1)!.url, '/');
      await call(`${gw.url}/apiary`);
      assert.equal(up.seen.at(-1)!.url, '/apiary');
    } finally {
      await gw.close();
    }
  });
});

async function waitFor(cond: () => boolean, ms = 2_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
