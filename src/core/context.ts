/**
 * The request context as stages see it: read-only. Only the runner (exchange.ts) writes it.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Principal } from './principal.ts';

export interface ListenerInfo {
  readonly name: string;
  /** 'https' listeners add HSTS; 'http' ones are plaintext (`insecure: true`) or redirect-only. */
  readonly scheme: 'https' | 'http';
  /** Public origin of this listener, e.g. https://localhost:8443 (never built from Host). */
  readonly publicOrigin: string;
}

export interface TlsInfo {
  readonly protocol: string | null;
  readonly alpn: string | false | null;
  readonly servername: string | false | null;
  /** The client certificate was presented and verified against the listener's client CA. */
  readonly clientAuthorized: boolean;
  readonly clientSubject?: string;
  readonly clientFingerprint256?: string;
}

export interface RouteInfo {
  readonly id: string;
  /** The path template as configured, e.g. /api/orders/{id}. */
  readonly path: string;
  readonly upstream: string | undefined;
}

export interface RequestContext {
  readonly requestId: string;
  /** W3C traceparent sent upstream (ours, child of the inbound one when it was valid). */
  readonly traceparent: string;
  readonly traceId: string;
  readonly listener: ListenerInfo;
  /** The socket's peer address (IPv4-mapped IPv6 normalised). */
  readonly peerIp: string;
  /** The client address: rightmost untrusted hop when the peer is a trusted proxy (S5). */
  readonly clientIp: string;
  readonly method: string;
  /** The authority the request was addressed to (lower-case host, optional port). */
  readonly host: string;
  /** The normalised path (decoded once, dot segments and duplicate slashes removed). */
  readonly path: string;
  /** The raw query string without '?', as received ('' when none). */
  readonly query: string;
  /** Inbound headers after hygiene: hop-by-hop and Rampart-* removed, pseudo-headers dropped. */
  readonly headers: Readonly<IncomingHttpHeaders>;
  readonly httpVersion: string;
  readonly tls: TlsInfo | undefined;
  readonly route: RouteInfo | undefined;
  readonly params: Readonly<Record<string, string>>;
  readonly principal: Principal;
  readonly annotations: ReadonlyMap<string, unknown>;
  /** The config generation serving this request. */
  readonly generation: number;
  /** Start time, process.hrtime.bigint(). */
  readonly startedAt: bigint;
  /** True once a stage has read the body (the proxy then sends the buffered bytes). */
  readonly bodyRead: boolean;
  /**
   * The request's framing says it has no body: HTTP/1.x without Content-Length and
   * Transfer-Encoding (RFC 9112 §6.3), HTTP/2 with END_STREAM on its HEADERS (RFC 9113 §8.1).
   * The proxy then sends none without building requestStream() (docs/performance.md).
   */
  readonly bodyless: boolean;
  /** Reads the request body once, bounded by the route's byte limit (413 beyond it). */
  body(): Promise<Buffer>;
  /**
   * The body parsed as JSON, once, with the validation rules (src/core/body/json.ts): duplicate
   * keys, `__proto__` and `constructor.prototype` refused, nesting depth and sizes bounded while
   * parsing by the route's structure limits. Rejects with a GatewayError (400, 413, or 415 for a
   * Content-Encoding the gateway does not decode). Every stage gets the same value: never mutate it.
   */
  json(): Promise<unknown>;
  /**
   * The body as a stream, cut off with 413 past the route's byte limit. For the proxy only: any
   * other stage that needs the body calls body(), and the proxy then sends those same bytes.
   */
  requestStream(): Readable;
  /** Aborted by the client, or by the gateway shutting down past its deadline. */
  readonly signal: AbortSignal;
}
