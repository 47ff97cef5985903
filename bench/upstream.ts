/**
 * The benchmark's upstream: a fixed ~200-byte JSON answer over node:http with keep-alive, run as
 * its own process so that its CPU is measured apart from the proxy in front of it.
 *
 *   node bench/upstream.ts --port 0
 *
 * Prints one JSON line `{"ready":true,"port":N}` on stdout once it listens; SIGTERM stops it.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';

/** The answer every request gets: 200 bytes of JSON, built once. */
export const UPSTREAM_BODY: Buffer = Buffer.from(
  JSON.stringify({
    id: 'item-0001',
    name: 'Rampart benchmark item',
    price: { amount: 1999, currency: 'EUR' },
    tags: ['bench', 'fixed', 'json'],
    createdAt: '2025-01-01T00:00:00.000Z',
    active: true,
    note: 'fixed',
  }).padEnd(200, ' '),
);

const HEADERS = { 'content-type': 'application/json', 'content-length': String(UPSTREAM_BODY.length), 'cache-control': 'no-store' };

if (import.meta.main) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' }, host: { type: 'string', default: '127.0.0.1' } } });
  const server = http.createServer((req, res) => {
    req.resume();
    res.writeHead(200, HEADERS);
    res.end(UPSTREAM_BODY);
  });
  // Keep connections from proxies open for the whole run; no per-socket request cap.
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  server.maxRequestsPerSocket = 0;
  server.listen({ port: Number(values.port), host: values.host }, () => {
    process.stdout.write(JSON.stringify({ ready: true, port: (server.address() as AddressInfo).port }) + '\n');
  });
  const stop = () => {
    server.close();
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
