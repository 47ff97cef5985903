/**
 * WebSocket pass-through, streaming in both directions, HTTP/2 trailers, CORS (off by default,
 * exact allowlist when on) and the plaintext `insecure` listener.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, WebSocket } from 'ws';
import { startTestGateway, type TestGateway } from '../helpers/gateway.ts';

let upstream: http.Server;
let wss: WebSocketServer;
let t: TestGateway;
let identitySeenByWs: string | undefined;

before(async () => {
  upstream = http.createServer((req, res) => {
    if (req.url === '/download') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 7);
      let sent = 0;
      const pump = () => {
        while (sent < 8 * 1024 * 1024) {
          sent += chunk.length;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      return pump();
    }
    if (req.url === '/upload') {
      const hash = createHash('sha256');
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        hash.update(c);
      });
      req.on('end', () => res.end(JSON.stringify({ bytes: n, sha256: hash.digest('hex') })));
      return;
    }
    if (req.url === '/framing') {
      // What the upstream was sent: its framing fields and the body's bytes.
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(JSON.stringify({ method: req.method, contentLength: req.headers['content-length'] ?? null, transferEncoding: req.headers['transfer-encoding'] ?? null, bytes: n })));
      return;
    }
    if (req.url === '/trailers') {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('body');
      res.addTrailers({ 'x-checksum': 'abc123' });
      res.end();
      return;
    }
    // A careless upstream that reflects any Origin with credentials: the gateway must not let it
    // widen (or open) CORS.
    res.writeHead(200, { 'content-type': 'application/json', 'access-control-allow-origin': String(req.headers.origin ?? '*'), 'access-control-allow-credentials': 'true' });
    res.end(JSON.stringify({ ok: true }));
  });
  wss = new WebSocketServer({ server: upstream });
  wss.on('connection', (ws, req) => {
    identitySeenByWs = req.headers['rampart-identity'] as string | undefined;
    ws.on('message', (m) => ws.send(`echo:${m.toString()}`));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  t = await startTestGateway(`
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
  - { name: plain, port: 0, protocol: http, insecure: true }
upstreams:
  - id: up
    targets: [{ url: ${url} }]
routes:
  - { id: ws, path: /ws, methods: [GET], upstream: up, websocket: true }
  - { id: nows, path: /nows, methods: [GET], upstream: up }
  - { id: download, path: /download, methods: [GET], upstream: up }
  - { id: upload, path: /upload, methods: [POST], upstream: up, hygiene: { maxBodyBytes: 20000000 } }
  - { id: trailers, path: /trailers, methods: [GET], upstream: up }
  - { id: framing, path: /framing, methods: [GET, POST], upstream: up }
  - id: cors
    path: /cors
    methods: [GET, POST]
    upstream: up
    cors: { enabled: true, allowOrigins: ["https://app.example.com"], allowMethods: [GET, POST], allowCredentials: true }
  - { id: nocors, path: /nocors, methods: [GET, OPTIONS], upstream: up }
`);
});
after(async () => {
  await t?.close();
  wss?.close();
  upstream?.closeAllConnections();
  upstream?.close();
});

test('WebSocket upgrades pass through on routes that allow them, with Rampart-Identity', async () => {
  const ws = new WebSocket(`wss://localhost:${t.port()}/ws`, { ca: await t.ca(), headers: { 'rampart-identity': 'forged' } });
  const reply = await new Promise<string>((resolve, reject) => {
    ws.on('open', () => ws.send('hello'));
    ws.on('message', (m) => resolve(m.toString()));
    ws.on('error', reject);
  });
  assert.equal(reply, 'echo:hello');
  assert.ok(identitySeenByWs && identitySeenByWs !== 'forged');
  ws.close();
});

test('a WebSocket upgrade on a route without websocket: true is refused', async () => {
  const ws = new WebSocket(`wss://localhost:${t.port()}/nows`, { ca: await t.ca() });
  const status = await new Promise<number>((resolve) => {
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => resolve(-1));
  });
  assert.equal(status, 400);
});

test('an 8 MB download and a 10 MB upload stream through intact', async () => {
  const down = await (await t.agent()).request({ origin: t.origin(), path: '/download', method: 'GET' });
  let n = 0;
  for await (const c of down.body) n += (c as Buffer).length;
  assert.equal(n, 8 * 1024 * 1024);
  const payload = Buffer.alloc(10 * 1024 * 1024, 3);
  const up = await t.fetch('/upload', { method: 'POST', body: payload });
  assert.equal(up.status, 200);
  assert.deepEqual(up.json(), { bytes: payload.length, sha256: createHash('sha256').update(payload).digest('hex') });
});

test('a request without a declared length is told apart from a bodyless one (HTTP/1.1 chunked, HTTP/2 DATA frames)', async () => {
  // A GET sends nothing upstream: no body, no framing field.
  const get = await t.fetch('/framing');
  assert.deepEqual(get.json(), { method: 'GET', contentLength: null, transferEncoding: null, bytes: 0 });
  // HTTP/1.1 chunked: no Content-Length, yet a body.
  async function* chunks() {
    yield Buffer.alloc(1000, 1);
    yield Buffer.alloc(500, 2);
  }
  const chunked = await t.fetch('/framing', { method: 'POST', body: Readable.from(chunks()) });
  assert.equal(chunked.json().bytes, 1500);
  // HTTP/2 has no Transfer-Encoding: a body without content-length is only seen in its DATA
  // frames (RFC 9113 §8.1), and only END_STREAM on the HEADERS says there is none.
  const session = http2.connect(t.origin(), { ca: await t.ca() });
  const read = (stream: http2.ClientHttp2Stream) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      let text = '';
      stream.setEncoding('utf8');
      stream.on('data', (c: string) => (text += c));
      stream.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
      stream.on('error', reject);
    });
  const post = session.request({ ':method': 'POST', ':path': '/framing' });
  post.write(Buffer.alloc(700, 3));
  post.end(Buffer.alloc(300, 4));
  assert.equal((await read(post)).bytes, 1000);
  const h2get = session.request({ ':path': '/framing' }, { endStream: true });
  assert.deepEqual(await read(h2get), { method: 'GET', contentLength: null, transferEncoding: null, bytes: 0 });
  session.close();
});

test('HTTP/2 clients receive the upstream trailers', async () => {
  const session = http2.connect(t.origin(), { ca: await t.ca() });
  const stream = session.request({ ':path': '/trailers' });
  const trailers = await new Promise<http2.IncomingHttpHeaders>((resolve, reject) => {
    stream.on('trailers', resolve);
    stream.on('error', reject);
    stream.resume();
    stream.on('end', () => resolve({}));
  });
  assert.equal(trailers['x-checksum'], 'abc123');
  session.close();
});

test('CORS is off unless a route enables it; preflights are answered by the gateway', async () => {
  const off = await t.fetch('/nocors', { headers: { origin: 'https://evil.example' } });
  assert.equal(off.headers['access-control-allow-origin'], undefined);
  const pre = await t.fetch('/cors', { method: 'OPTIONS', headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.match(String(pre.headers.vary), /Origin/);
  const bad = await t.fetch('/cors', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(bad.status, 403);
  assert.equal(bad.json().code, 'RAMPART_CORS_ORIGIN_DENIED');
  const nul = await t.fetch('/cors', { method: 'OPTIONS', headers: { origin: 'null', 'access-control-request-method': 'GET' } });
  assert.equal(nul.status, 403);
  const simple = await t.fetch('/cors', { headers: { origin: 'https://app.example.com' } });
  assert.equal(simple.headers['access-control-allow-origin'], 'https://app.example.com');
  assert.match(String(simple.headers.vary), /Origin/);
  const other = await t.fetch('/cors', { headers: { origin: 'https://evil.example' } });
  assert.equal(other.headers['access-control-allow-origin'], undefined, 'the upstream reflection is stripped');
  assert.equal(other.headers['access-control-allow-credentials'], undefined);
  assert.match(String(other.headers.vary), /Origin/);
  const offReflect = await t.fetch('/nocors', { headers: { origin: 'https://evil.example' } });
  assert.equal(offReflect.headers['access-control-allow-origin'], undefined);
  const offPreflight = await t.fetch('/nocors', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } });
  assert.equal(offPreflight.status, 403, 'CORS off: a preflight is refused, not forwarded');
});

test('the insecure listener serves routes in plaintext, without HSTS, and was warned about', async () => {
  const res = await t.fetch('/nocors', { listener: 'plain' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['strict-transport-security'], undefined);
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.ok(t.logs.some((l) => l.level === 40 && String(l.msg).includes('plaintext listener')));
});
