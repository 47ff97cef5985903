/**
 * Test harness for the proxy stage (not a test file itself): a tiny gateway on a real socket
 * whose handler builds an Exchange the way the core does (hygiene's inspect, client IP), runs the
 * compiled proxy stage and writes its decision; real upstream servers on 127.0.0.1:0.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable, type Readable } from 'node:stream';
import type { RouteConfig, RootConfig, UpstreamConfig } from '../../config/types.ts';
import { Exchange } from '../../core/exchange.ts';
import { Keeper } from '../../core/keeper.ts';
import { IpSet } from '../../core/net/cidr.ts';
import { resolveClientIp } from '../../core/net/client-ip.ts';
import type { IdentityTokens } from '../../core/identity-port.ts';
import type { Principal } from '../../core/principal.ts';
import { GatewayError, PROBLEM_CONTENT_TYPE, toProblem } from '../../errors/problem.ts';
import { createLogger } from '../../observe/logger.ts';
import { inspect } from '../hygiene/index.ts';
import type { ProxyConfig } from './config.ts';
import { proxyStage, type ProxyStage } from './index.ts';

export async function listen(server: http.Server | import('node:https').Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export function closeServer(server: http.Server | import('node:https').Server): Promise<void> {
  server.closeAllConnections?.();
  return new Promise((resolve) => server.close(() => resolve()));
}

export function upstreamConfig(id: string, urls: string[], overrides: Partial<UpstreamConfig> = {}): UpstreamConfig {
  return {
    id,
    targets: urls.map((url) => ({ url, weight: 1 })),
    timeouts: { connectMs: 1_000, headersMs: 2_000, bodyMs: 2_000 },
    retries: { attempts: 2, backoffMs: 5 },
    health: { passive: { unhealthyThreshold: 1_000, ejectMs: 10_000 } },
    circuitBreaker: { failureRatio: 0.5, minimumRequests: 1_000, windowMs: 10_000, openMs: 5_000, halfOpenRequests: 1 },
    pool: { connections: 16, keepAliveTimeoutMs: 4_000 },
    maxResponseBytes: 50 * 1024 * 1024,
    ...overrides,
  };
}

export const identity: IdentityTokens = {
  tokenFor: async (p: Principal, upstreamId: string, generation: number) => `signed:${p.kind}:${p.subject}:${upstreamId}:${generation}`,
};

export interface GatewayOptions {
  upstream: UpstreamConfig;
  proxy?: Partial<ProxyConfig>;
  route?: Partial<RouteConfig>;
  /** Peers treated as trusted proxies (S5). */
  trustedProxies?: string[];
  maxBodyBytes?: number;
  /** Simulate a stage (authz, validation) that read the body before the proxy. */
  readBody?: boolean;
  keeper?: Keeper;
}

export interface TestGateway {
  readonly url: string;
  readonly port: number;
  readonly stage: ProxyStage;
  readonly keeper: Keeper;
  readonly logs: Array<Record<string, unknown>>;
  /** Access-log fields the stage added (onLog), by request id. */
  readonly logEntries: Map<string, Record<string, unknown>>;
  close(): Promise<void>;
}

export async function startGateway(opts: GatewayOptions): Promise<TestGateway> {
  const logs: Array<Record<string, unknown>> = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination });
  const keeper = opts.keeper ?? new Keeper();
  const route: RouteConfig = { id: 'r1', path: '/*', methods: ['GET'], upstream: opts.upstream.id, websocket: true, requireClientCertificate: false, ...opts.route };
  const stage = (await proxyStage.compile({ ...proxyStage.defaults, ...opts.proxy }, {
    root: {} as RootConfig,
    clock: Date.now,
    route,
    upstream: opts.upstream,
    logger,
    keeper,
    identity,
    generation: 7,
    dataDir: '.rampart-test',
    dev: true,
  })) as ProxyStage;
  keeper.commit();
  const trusted = new IpSet(opts.trustedProxies ?? []);
  const logEntries = new Map<string, Record<string, unknown>>();
  let n = 0;

  const exchange = (req: http.IncomingMessage): Exchange | GatewayError => {
    const peer = req.socket.remoteAddress ?? 'unknown';
    const ex = new Exchange(req, { name: 'test', scheme: 'https', publicOrigin: 'https://gw.test' }, peer, undefined, 7);
    const inspected = inspect(
      { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, rawHeaders: req.rawHeaders, httpVersion: req.httpVersion },
      { maxHeaderCount: 100, maxHeaderBytes: 16 * 1024, maxUrlBytes: 8 * 1024, maxBodyBytes: opts.maxBodyBytes ?? 64 * 1024 * 1024 },
    );
    if (inspected instanceof GatewayError) return inspected;
    ex.requestId = `req-${++n}`;
    ex.traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    ex.traceparent = `00-${ex.traceId}-00f067aa0ba902b7-01`;
    ex.path = inspected.path;
    ex.query = inspected.query;
    ex.host = inspected.host;
    ex.headers = inspected.headers;
    const xff = req.headers['x-forwarded-for'];
    ex.clientIp = resolveClientIp(peer, { forwarded: req.headers.forwarded, xForwardedFor: typeof xff === 'string' ? xff : undefined }, trusted);
    ex.maxBodyBytes = opts.maxBodyBytes ?? 64 * 1024 * 1024;
    ex.route = { id: route.id, path: route.path, upstream: route.upstream };
    req.socket.once('close', () => ex.abort(new Error('client closed')));
    return ex;
  };

  const server = http.createServer((req, res) => {
    void (async () => {
      const ex = exchange(req);
      if (ex instanceof GatewayError) return writeProblem(res, ex, 'none');
      res.setHeader('x-request-id', ex.requestId);
      try {
        if (opts.readBody) await ex.body();
      } catch (err) {
        return writeProblem(res, err as GatewayError, ex.requestId);
      }
      const d = await stage.onRequest!(ex);
      const entry: Record<string, unknown> = {};
      stage.onLog?.(ex, entry);
      logEntries.set(ex.requestId, entry);
      if (d.kind === 'deny') return writeProblem(res, d.error, ex.requestId);
      if (d.kind !== 'reply') throw new Error('proxy must reply or deny');
      const r = d.response;
      res.writeHead(r.status, r.headers);
      const body = r.body;
      if (body === null || Buffer.isBuffer(body)) return void res.end(body ?? undefined);
      pump(body, res, r.trailers);
    })().catch((err: unknown) => {
      res.destroy(err as Error);
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: import('node:stream').Duplex, head: Buffer) => {
    const ex = exchange(req);
    if (ex instanceof GatewayError) return socket.destroy();
    ex.annotations.set('core.upgrade', String(req.headers.upgrade ?? '').toLowerCase()); // as the core does
    stage.upgrade(ex, socket, head).catch((err: unknown) => writeRawProblem(socket, err as GatewayError, ex.requestId));
  });
  const port = await listen(server);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stage,
    keeper,
    logs,
    logEntries,
    async close() {
      await closeServer(server);
      if (!opts.keeper) await keeper.closeAll();
    },
  };
}

/** Writes a streamed body with backpressure, then the trailers (HTTP/1.1 chunked). */
function pump(body: Readable, res: http.ServerResponse, trailers: (() => Record<string, string | string[]> | undefined) | undefined): void {
  body.on('data', (chunk: Buffer) => {
    if (!res.write(chunk)) {
      body.pause();
      res.once('drain', () => body.resume());
    }
  });
  body.on('end', () => {
    const t = trailers?.();
    if (t) res.addTrailers(t);
    res.end();
  });
  body.on('error', () => res.destroy());
  res.on('close', () => {
    if (!body.readableEnded) body.destroy();
  });
}

function writeProblem(res: http.ServerResponse, error: GatewayError, requestId: string): void {
  const doc = toProblem(error, requestId);
  res.writeHead(error.status, { ...error.headers, 'content-type': PROBLEM_CONTENT_TYPE });
  res.end(JSON.stringify(doc));
}

/** What the core does with a failed upgrade: problem+json on the raw socket, then close. */
function writeRawProblem(socket: import('node:stream').Duplex, error: GatewayError, requestId: string): void {
  if (!socket.writable) return void socket.destroy();
  const body = JSON.stringify(toProblem(error, requestId));
  let head = `HTTP/1.1 ${error.status} ${http.STATUS_CODES[error.status] ?? 'Error'}\r\ncontent-type: ${PROBLEM_CONTENT_TYPE}\r\n`;
  head += `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries(error.headers)) head += `${name}: ${value}\r\n`;
  socket.end(`${head}\r\n${body}`);
}

export interface CallResult {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  trailers: NodeJS.Dict<string>;
  json<T = Record<string, unknown>>(): T;
}

/** A plain node:http client call (fresh connection each time), bounded by `timeoutMs`. */
export function call(
  url: string,
  options: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string | Readable; timeoutMs?: number } = {},
): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: options.method ?? 'GET', headers: options.headers, agent: false, signal: AbortSignal.timeout(options.timeoutMs ?? 5_000) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, trailers: res.trailers, json: <T>() => JSON.parse(body.toString()) as T });
      });
    });
    req.on('error', reject);
    const b = options.body;
    if (b === undefined) req.end();
    else if (typeof b === 'string' || Buffer.isBuffer(b)) req.end(b);
    else b.pipe(req);
  });
}

/** An upstream that records each request (method, url, headers, body size) and answers via `handler`. */
export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  bytes: number;
  body: Buffer;
}

export async function startUpstream(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void = (_req, res) => res.end('ok'),
  options: { keepBody?: boolean; port?: number } = {},
): Promise<{ server: http.Server; url: string; port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const s: Seen = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, bytes: 0, body: Buffer.alloc(0) };
    seen.push(s);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      s.bytes += c.length;
      if (options.keepBody !== false) chunks.push(c);
    });
    req.on('end', () => {
      s.body = Buffer.concat(chunks);
      handler(req, res, s);
    });
  });
  const port = options.port ?? 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return { server, url: `http://127.0.0.1:${actual}`, port: actual, seen };
}
