/**
 * Listeners: HTTPS (HTTP/2 and HTTP/1.1 by ALPN, certificates by SNI), plain HTTP that only
 * redirects (308 to the configured origin, never built from Host), and plaintext route serving
 * with an explicit `insecure: true`. Core defaults against slow and abusive clients live here.
 */
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import type { Socket, AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { ListenerConfig } from '../config/types.ts';
import { CertificateStore } from '../tls/store.ts';
import { certificateEntries } from '../tls/entries.ts';
import { tlsServerOptions, attachCertificateStore } from '../tls/server-options.ts';
import { assertDevCertificatesAllowed } from '../tls/dev-ca.ts';
import { NODE_LIMITS } from '../stages/hygiene/index.ts';
import type { InboundRequest } from './exchange.ts';
import type { OutboundResponse } from './respond.ts';
import type { ListenerInfo } from './context.ts';
import { SlowClientGuard } from './slow-clients.ts';
import { normaliseIp } from './net/cidr.ts';

export interface ListenerHandlers {
  request(listener: string, req: InboundRequest, res: OutboundResponse): void;
  upgrade(listener: string, req: http.IncomingMessage, socket: Duplex, head: Buffer): void;
  /** A request Node's parser refused before Rampart saw it. */
  clientError(listener: string, err: NodeJS.ErrnoException, socket: Duplex): void;
}

export interface OpenListener {
  readonly config: ListenerConfig;
  readonly info: ListenerInfo;
  readonly server: http.Server | http2.Http2SecureServer;
  readonly store: CertificateStore | undefined;
  address(): AddressInfo;
  /** Stops accepting; drains sessions and idle keep-alive connections. */
  stopAccepting(): void;
  /** Destroys whatever is still open. */
  destroyAll(): void;
  /** Connections still open. */
  openConnections(): number;
}

export function listenerInfo(l: ListenerConfig, port: number): ListenerInfo {
  const host = l.host === '127.0.0.1' || l.host === '::1' || l.host === '0.0.0.0' || l.host === '::' ? 'localhost' : l.host;
  const scheme = l.protocol;
  const defaultPort = scheme === 'https' ? 443 : 80;
  const publicOrigin = l.publicOrigin ?? `${scheme}://${host}${port === defaultPort ? '' : `:${port}`}`;
  return { name: l.name, scheme, publicOrigin };
}

export async function openListener(l: ListenerConfig, opts: { baseDir: string; dataDir: string; logger: Logger; handlers: ListenerHandlers }): Promise<OpenListener> {
  const { logger, handlers } = opts;
  const limits = l.limits;
  let store: CertificateStore | undefined;
  let server: http.Server | http2.Http2SecureServer;
  const sockets = new Set<Socket>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const activeRequests = new WeakMap<Socket, number>();
  let draining = false;

  if (l.protocol === 'https') {
    const tls = l.tls ?? {};
    const storeOpts = {
      onReload: (e: { certFiles: string[] }) => logger.info({ listener: l.name, files: e.certFiles.map((f) => path.relative(process.cwd(), f)) }, 'certificate reloaded'),
      onError: (e: Error) => logger.error({ listener: l.name, err: e }, 'certificate reload refused; the previous certificate keeps serving'),
    };
    if (tls.certificates) {
      store = new CertificateStore(
        certificateEntries(tls, opts.baseDir),
        storeOpts,
      );
    } else {
      assertDevCertificatesAllowed(l.name, l.host);
      store = await CertificateStore.fromDevCertificates(opts.dataDir, storeOpts);
    }
    const base = tlsServerOptions(store, store.policy, { http2: l.http2 });
    const options: http2.SecureServerOptions = {
      ...base,
      settings: {
        maxConcurrentStreams: limits.maxConcurrentStreams,
        maxHeaderListSize: NODE_LIMITS.maxHeaderSize,
        enablePush: false,
      },
      maxHeaderListPairs: NODE_LIMITS.maxHeaderListPairs,
      // HTTP/2 abuse limits: invalid frames, refused streams (rapid reset, CVE-2023-44487).
      maxSessionInvalidFrames: 100,
      maxSessionRejectedStreams: 100,
      maxSessionMemory: 10,
      unknownProtocolTimeout: 10_000,
    };
    const h2 = http2.createSecureServer(options);
    // HTTP/1.1 over this server: hygiene answers a missing Host (problem+json), not Node's bare 400.
    (h2 as unknown as { requireHostHeader: boolean }).requireHostHeader = false;
    attachCertificateStore(h2, store);
    h2.on('session', (session) => {
      sessions.add(session);
      session.setTimeout(limits.idleTimeoutMs, () => session.close());
      session.on('close', () => sessions.delete(session));
      if (draining) session.close();
    });
    server = h2;
  } else {
    server = http.createServer({
      maxHeaderSize: NODE_LIMITS.maxHeaderSize,
      requireHostHeader: false,
      joinDuplicateHeaders: false,
      insecureHTTPParser: false,
    });
  }
  // HTTP/1.1 limits (slowloris: headers and whole-request deadlines; keep-alive bounds).
  const s1 = server as http.Server;
  s1.headersTimeout = limits.headersTimeoutMs;
  s1.requestTimeout = limits.requestTimeoutMs;
  s1.keepAliveTimeout = limits.keepAliveTimeoutMs;
  s1.maxRequestsPerSocket = limits.maxRequestsPerSocket;
  s1.maxHeadersCount = NODE_LIMITS.maxHeadersCount;
  (s1 as { maxHeaderSize?: number }).maxHeaderSize = NODE_LIMITS.maxHeaderSize;
  server.setTimeout(limits.idleTimeoutMs);

  // Raw sockets (every connection, handshakes included) and application sockets (what an
  // HTTP/1.1 request sees as req.socket: the TLS socket on https listeners).
  const rawSockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    rawSockets.add(socket);
    socket.on('close', () => rawSockets.delete(socket));
    if (l.protocol === 'http') {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
  });
  const guard = new SlowClientGuard(limits.headersTimeoutMs, limits.requestTimeoutMs, (socket, which) => {
    logger.info({ listener: l.name, which, remoteAddress: socket.remoteAddress }, 'slow client cut off');
    socket.destroy();
  });
  server.on('secureConnection', (socket: Socket & { alpnProtocol?: string | false }) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    if (socket.alpnProtocol !== 'h2') guard.watch(socket);
  });
  server.on('timeout', (socket: Duplex) => socket.destroy());

  const name = l.name;
  const onRequest = (req: InboundRequest, res: OutboundResponse) => {
    const socket = req.socket as Socket | undefined;
    if (req.httpVersionMajor === 1 && socket) {
      activeRequests.set(socket, (activeRequests.get(socket) ?? 0) + 1);
      guard.requestStarted(socket, req as http.IncomingMessage);
      if (draining) res.setHeader('connection', 'close');
      res.on('close', () => {
        guard.requestEnded(socket);
        const n = (activeRequests.get(socket) ?? 1) - 1;
        activeRequests.set(socket, n);
        if (draining && n === 0) socket.destroySoon?.() ?? socket.end();
      });
    }
    if (req.httpVersionMajor === 2) guardStream(req as http2.Http2ServerRequest);
    handlers.request(name, req, res);
  };
  // HTTP/2 streams get the same whole-request deadline as HTTP/1.1 requests: a stream trickling
  // its body would otherwise hold an upstream connection for as long as it likes.
  const guardStream = (req: http2.Http2ServerRequest) => {
    if (req.complete) return;
    const timer = setTimeout(() => {
      if (req.complete) return;
      logger.info({ listener: l.name, which: 'request', remoteAddress: req.socket?.remoteAddress }, 'slow client cut off');
      req.stream.close(http2.constants.NGHTTP2_CANCEL);
    }, limits.requestTimeoutMs);
    timer.unref();
    const clear = () => clearTimeout(timer);
    req.once('end', clear);
    req.once('close', clear);
  };
  if (l.protocol === 'http' && l.redirectTo) {
    const target = l.redirectTo.replace(/\/$/, '');
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => redirect(target, req, res, logger.child({ log: 'access', listener: name })));
    server.on('upgrade', (_req: http.IncomingMessage, socket: Duplex) => socket.destroy());
  } else {
    server.on('request', onRequest);
    // Expect: 100-continue goes through the pipeline (the continue is sent when the body is read);
    // any other expectation is refused by hygiene with 417.
    server.on('checkContinue', onRequest);
    server.on('checkExpectation', onRequest);
    server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      guard.release(socket as Socket);
      handlers.upgrade(name, req, socket, head);
    });
  }
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => handlers.clientError(name, err, socket));
  server.on('tlsClientError', (err: Error) => logger.debug({ listener: name, err }, 'TLS handshake refused'));

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: l.port, host: l.host }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.error({ listener: name, err }, 'listener error'));
  const addr = server.address() as AddressInfo;
  return {
    config: l,
    info: listenerInfo(l, addr.port),
    server,
    store,
    address: () => addr,
    stopAccepting() {
      draining = true;
      server.close();
      for (const s of sessions) s.close();
      for (const socket of sockets) {
        if ((activeRequests.get(socket) ?? 0) === 0 && !isHttp2Socket(socket, sessions)) socket.end();
      }
    },
    destroyAll() {
      for (const s of sessions) s.destroy();
      for (const socket of sockets) socket.destroy();
      for (const socket of rawSockets) socket.destroy();
      store?.close();
    },
    openConnections: () => rawSockets.size,
  };
}

function isHttp2Socket(socket: Socket, sessions: Set<http2.ServerHttp2Session>): boolean {
  for (const s of sessions) if (s.socket === socket) return true;
  return false;
}

/** 308 to the configured origin; the path is kept only when it is a plain origin-form path. */
function redirect(target: string, req: http.IncomingMessage, res: http.ServerResponse, accessLog: Logger): void {
  const url = req.url ?? '/';
  const safe = /^\/(?!\/)[\x21-\x7e]*$/.test(url) && !url.includes('\\') ? url : '/';
  res.writeHead(308, { location: target + safe, 'content-length': '0', 'cache-control': 'no-store', connection: 'close' });
  res.end();
  req.resume();
  accessLog.info({ clientIp: normaliseIp(req.socket.remoteAddress ?? 'unknown'), method: String(req.method).slice(0, 16), path: safe.split('?')[0], status: 308, decision: 'reply', reason: 'redirect to HTTPS' });
}
