/**
 * WebSocket pass-through through `upgrade` with real `ws` endpoints on both sides.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { once } from 'node:events';
import { WebSocket, WebSocketServer } from 'ws';
import { closeServer, listen, startGateway, upstreamConfig, type TestGateway } from './test-harness.ts';

describe('proxy upgrade (WebSocket)', () => {
  let server: http.Server;
  let wss: WebSocketServer;
  let upstreamUrl: string;
  const handshakes: http.IncomingHttpHeaders[] = [];
  let plain: http.Server;
  let plainUrl: string;
  let gw: TestGateway;

  before(async () => {
    server = http.createServer((_req, res) => res.end('not a websocket endpoint'));
    wss = new WebSocketServer({ server });
    wss.on('connection', (ws, req) => {
      handshakes.push(req.headers);
      ws.on('message', (data, binary) => ws.send(binary ? data : `echo:${String(data)}`, { binary }));
    });
    upstreamUrl = `http://127.0.0.1:${await listen(server)}`;
    plain = http.createServer((_req, res) => res.end('no upgrade here'));
    plainUrl = `http://127.0.0.1:${await listen(plain)}`;
    gw = await startGateway({ upstream: upstreamConfig('ws', [upstreamUrl]) });
  });
  after(async () => {
    await gw.close();
    for (const c of wss.clients) c.terminate();
    wss.close();
    await closeServer(server);
    await closeServer(plain);
  });

  test('echoes text and binary frames both ways, with the identity header and no forged one', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/chat?room=1`, { headers: { 'rampart-identity': 'forged', authorization: 'Bearer t' }, handshakeTimeout: 2_000 });
    await once(ws, 'open');
    ws.send('hello');
    const [text] = (await once(ws, 'message')) as [Buffer];
    assert.equal(String(text), 'echo:hello');
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    const [bin] = (await once(ws, 'message')) as [Buffer];
    assert.deepEqual([...bin], [1, 2, 3]);
    const h = handshakes.at(-1)!;
    assert.equal(h['rampart-identity'], 'signed:anonymous:anonymous:ws:7');
    assert.equal(h.authorization, undefined);
    assert.equal(h['x-forwarded-for'], '127.0.0.1');
    ws.close();
    await once(ws, 'close');
  });

  test('closing the upstream side closes the client', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${gw.port}/chat`, { handshakeTimeout: 2_000 });
    await once(ws, 'open');
    for (const c of wss.clients) c.terminate();
    const [code] = (await once(ws, 'close')) as [number];
    assert.equal(code, 1006);
  });

  test('an upstream that does not answer 101 gives the client a problem+json 502, never its text', async () => {
    const other = await startGateway({ upstream: upstreamConfig('ws-plain', [plainUrl]) });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${other.port}/chat`, { handshakeTimeout: 2_000 });
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
      assert.equal(res.statusCode, 502);
      assert.equal(res.headers['content-type'], 'application/problem+json');
      let body = '';
      for await (const c of res) body += String(c);
      assert.equal(JSON.parse(body).code, 'RAMPART_UPSTREAM_PROTOCOL_ERROR');
      ws.on('error', () => {}); // terminating a handshake that failed reports an error
      ws.terminate();
    } finally {
      await other.close();
    }
  });

  test('a route without websocket: true refuses the upgrade with 400', async () => {
    const off = await startGateway({ upstream: upstreamConfig('ws-off', [upstreamUrl]), route: { websocket: false } });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${off.port}/chat`, { handshakeTimeout: 2_000 });
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
      assert.equal(res.statusCode, 400);
      res.resume();
      ws.on('error', () => {});
      ws.terminate();
    } finally {
      await off.close();
    }
  });

  test('an unreachable upstream gives 502 RAMPART_UPSTREAM_CONNECT_FAILED on the socket', async () => {
    const s = http.createServer();
    const port = await listen(s);
    await closeServer(s);
    const dead = await startGateway({ upstream: upstreamConfig('ws-dead', [`http://127.0.0.1:${port}`]) });
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${dead.port}/chat`, { handshakeTimeout: 2_000 });
      const [, res] = (await once(ws, 'unexpected-response')) as [unknown, http.IncomingMessage];
      assert.equal(res.statusCode, 502);
      let body = '';
      for await (const c of res) body += String(c);
      assert.equal(JSON.parse(body).code, 'RAMPART_UPSTREAM_CONNECT_FAILED');
      ws.on('error', () => {});
      ws.terminate();
    } finally {
      await dead.close();
    }
  });
});
