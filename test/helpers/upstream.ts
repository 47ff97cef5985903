/**
 * Real upstream servers on loopback for integration tests: an echo service that reports what it
 * received (method, path, headers, body), with knobs for status, delay and streaming.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface EchoServer {
  readonly url: string;
  readonly port: number;
  readonly received: Received[];
  close(): Promise<void>;
}

/**
 * Paths: /status/<code> answers that status with a body naming an internal detail;
 * /slow/<ms> waits before answering; anything else echoes the request as JSON.
 */
export async function startEcho(port = 0): Promise<EchoServer> {
  const received: Received[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    try {
      for await (const c of req) chunks.push(c as Buffer);
    } catch {
      return; // the gateway aborted the request (client gone, deadline): nothing to answer
    }
    const body = Buffer.concat(chunks).toString();
    received.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
    const url = req.url ?? '/';
    const status = /\/status\/(\d{3})/.exec(url);
    if (status) {
      res.writeHead(Number(status[1]), { 'content-type': 'text/plain', server: 'EchoServer/1.0', 'x-powered-by': 'Express' });
      res.end('internal failure: db password hunter2 at /srv/app.js:42');
      return;
    }
    const slow = /\/slow\/(\d+)/.exec(url);
    if (slow) await new Promise((r) => setTimeout(r, Number(slow[1])));
    const payload = JSON.stringify({ method: req.method, url, headers: req.headers, body });
    res.writeHead(200, { 'content-type': 'application/json', server: 'EchoServer/1.0', 'x-powered-by': 'Express' });
    res.end(payload);
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const p = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${p}`,
    port: p,
    received,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
