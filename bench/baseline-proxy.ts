/**
 * The baseline (b) of the benchmark: the smallest honest reverse proxy on Node — node:http (and
 * its node:https twin, same certificate and TLS policy as Rampart) in front of an undici Pool, the
 * HTTP client Rampart itself uses. It strips hop-by-hop headers both ways, streams bodies, and
 * does nothing else: no routing, no logging, no limits. Rampart's bare proxy path is measured
 * against it (target: ≤ 1.2× its CPU per request).
 *
 *   node bench/baseline-proxy.ts --upstream http://127.0.0.1:P --http-port 0 \
 *     [--https-port 0 --cert FILE --key FILE]
 *
 * Prints one JSON line `{"ready":true,"http":N,"https":M}` on stdout once both listen.
 */
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import { policyContextOptions, tlsPolicy } from '../src/tls/policy.ts';

/** RFC 9110 §7.6.1: connection-specific fields are not forwarded. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

function copyHeaders(from: http.IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name of Object.keys(from)) {
    const value = from[name];
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

export function proxyHandler(upstream: string): http.RequestListener {
  const origin = new URL(upstream);
  // Same pool settings as Rampart's upstream defaults (128 connections, HTTP/1.1, 4 s keep-alive).
  const pool = new Pool(origin.origin, { connections: 128, keepAliveTimeout: 4_000, allowH2: false });
  pool.on('connectionError', () => {});
  return (req, res) => {
    const headers = copyHeaders(req.headers);
    headers.host = origin.host;
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool
      .request({ method: req.method as 'GET', path: req.url ?? '/', headers, body: hasBody ? req : null })
      .then(
        ({ statusCode, headers: upstreamHeaders, body }) => {
          // The client may have gone away while the upstream answered.
          if (res.destroyed) return void body.on('error', () => {}).destroy();
          res.writeHead(statusCode, copyHeaders(upstreamHeaders));
          // pipe() rather than stream.pipeline(): measured ~1.3× cheaper per request here (see
          // docs/performance.md); errors and early closes are wired by hand instead.
          body.on('error', () => res.destroy());
          res.on('close', () => {
            if (!res.writableFinished) body.destroy();
          });
          body.pipe(res);
        },
        () => {
          if (res.headersSent || res.destroyed) return void res.destroy();
          res.writeHead(502, { 'content-length': '0' });
          res.end();
        },
      );
  };
}

function listen(server: http.Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port, host: '127.0.0.1' }, () => resolve((server.address() as AddressInfo).port));
  });
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      upstream: { type: 'string' },
      'http-port': { type: 'string', default: '0' },
      'https-port': { type: 'string' },
      cert: { type: 'string' },
      key: { type: 'string' },
    },
  });
  if (!values.upstream) throw new Error('--upstream URL is required');
  const handler = proxyHandler(values.upstream);
  const servers: http.Server[] = [];
  const plain = http.createServer(handler);
  servers.push(plain);
  const ready: { ready: true; http: number; https?: number } = { ready: true, http: await listen(plain, Number(values['http-port'])) };
  if (values['https-port'] !== undefined) {
    if (!values.cert || !values.key) throw new Error('--https-port needs --cert and --key');
    const secure = https.createServer({ ...policyContextOptions(tlsPolicy()), cert: readFileSync(values.cert), key: readFileSync(values.key) }, handler);
    servers.push(secure);
    ready.https = await listen(secure, Number(values['https-port']));
  }
  for (const s of servers) {
    s.keepAliveTimeout = 120_000;
    s.headersTimeout = 125_000;
  }
  process.stdout.write(JSON.stringify(ready) + '\n');
  const stop = () => {
    for (const s of servers) {
      s.close();
      s.closeAllConnections();
    }
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
