/**
 * The runner: takes one request through the pipeline in its fixed order, stops at the first
 * denial, runs the response phase in reverse over the stages entered, and the egress phase
 * (security headers, request id, access log, exchange event) for every response.
 *
 *   request-id → hygiene → route match → [ip-filter → throttle → cors → authn → authz → quota →
 *   validation → proxy] → response phase → egress
 */
import type { TLSSocket } from 'node:tls';
import type { Logger } from 'pino';
import { GatewayError } from '../errors/problem.ts';
import { publishSecurityEvent, exchangeChannel } from '../observe/events.ts';
import { resolveClientIp } from './net/client-ip.ts';
import { normaliseIp } from './net/cidr.ts';
import { hostname } from '../stages/hygiene/index.ts';
import { Exchange, type InboundRequest } from './exchange.ts';
import { problemResponse, writeResponse, type EgressContext, type OutboundResponse } from './respond.ts';
import type { CompiledListener, CompiledRoute, Generation } from './compile.ts';
import type { GatewayResponse, Stage } from './stage.ts';
import type { ListenerInfo, TlsInfo } from './context.ts';
import type { Principal } from './principal.ts';
import type { AccessLineWriter } from '../observe/access-line.ts';
import type { CertificateStore } from '../tls/store.ts';

export interface RunnerServices {
  readonly logger: Logger;
  readonly accessLog: Logger;
}

export function tlsInfo(socket: unknown, store: CertificateStore | undefined): TlsInfo | undefined {
  const s = socket as TLSSocket | undefined;
  if (!s || typeof s.getProtocol !== 'function') return undefined;
  // Client certificates are verified against the client CA of the name connected to, never
  // against public roots: the store decides, not socket.authorized.
  const status = store?.clientCertificateStatus(s);
  const info: { -readonly [K in keyof TlsInfo]: TlsInfo[K] } = {
    protocol: s.getProtocol(),
    alpn: s.alpnProtocol ?? null,
    servername: (s as TLSSocket & { servername?: string | false }).servername ?? null,
    clientAuthorized: status?.verified === true,
  };
  if (status?.verified) {
    const cert = status.certificate;
    if (cert.subject) info.clientSubject = Object.entries(cert.subject).map(([k, v]) => `${k}=${String(v)}`).join(',');
    info.clientFingerprint256 = cert.fingerprint256;
  }
  return info;
}

/** Builds the exchange and runs the pre-route stages; returns the exchange or an error to answer. */
export function prepare(gen: Generation, listener: CompiledListener, info: ListenerInfo, req: InboundRequest, store?: CertificateStore): { ex: Exchange; error?: GatewayError } {
  const socket = (req.socket ?? (req as { stream?: { session?: { socket?: unknown } } }).stream?.session?.socket) as { remoteAddress?: string } | undefined;
  const peerIp = normaliseIp(socket?.remoteAddress ?? 'unknown');
  const ex = new Exchange(req, info, peerIp, info.scheme === 'https' ? tlsInfo(socket, store) : undefined, gen.id);
  const ids = listener.ids.resolve(req.headers);
  ex.requestId = ids.requestId;
  ex.traceId = ids.traceId;
  ex.traceparent = ids.traceparent;
  ex.maxBodyBytes = listener.hygiene.config.maxBodyBytes;
  // S5: first, so that every denial below is logged and counted against the real client. Only the
  // one header the trusted proxies are configured to set is read: a client's own Forwarded (or
  // X-Forwarded-For) passed through untouched by a balancer never counts.
  const fwd = str(req.headers[gen.forwardedHeader]);
  ex.clientIp = resolveClientIp(peerIp, gen.forwardedHeader === 'forwarded' ? { forwarded: fwd } : { xForwardedFor: fwd }, gen.trustedProxies);
  const inspected = listener.hygiene.inspect({
    method: ex.method,
    url: (req as { url?: string }).url ?? '/',
    headers: req.headers,
    rawHeaders: req.rawHeaders,
    httpVersion: req.httpVersion,
  });
  if (inspected instanceof GatewayError) {
    ex.path = safeLogPath((req as { url?: string }).url ?? '/');
    return { ex, error: inspected };
  }
  ex.path = inspected.path;
  ex.query = inspected.query;
  ex.host = inspected.host;
  ex.headers = inspected.headers;
  // S12: a listener limited to some host names (the admin listener: loopback names) refuses any
  // other Host — a DNS-rebinding page cannot reach it through the victim's browser.
  if (listener.allowedHosts && !hostAllowed(listener.allowedHosts, hostname(ex.host))) {
    return { ex, error: new GatewayError('RAMPART_HYGIENE_HOST_NOT_ALLOWED', { reason: `host ${hostname(ex.host).slice(0, 64)}` }) };
  }
  return { ex };
}

function hostAllowed(allowed: ReadonlySet<string>, host: string): boolean {
  if (allowed.has(host)) return true;
  const dot = host.indexOf('.');
  return dot > 0 && allowed.has(`*${host.slice(dot)}`);
}

/** Matches the route; sets route, params and the route's byte limit. */
export function match(listener: CompiledListener, ex: Exchange): CompiledRoute | GatewayError {
  const host = hostname(ex.host);
  let found = listener.table.find(ex.method, host, ex.path);
  // A CORS preflight (Fetch §3.2.2) asks about another method: it belongs to the route of that
  // method, whose cors stage answers or refuses it; it never reaches an upstream.
  const acrm = ex.headers['access-control-request-method'];
  if (found.kind !== 'match' && ex.method === 'OPTIONS' && typeof acrm === 'string' && ex.headers.origin !== undefined) {
    const target = listener.table.find(acrm, host, ex.path);
    if (target.kind === 'match') {
      found = target;
      ex.annotations.set('core.preflight', true);
    }
  }
  if (found.kind === 'none') return new GatewayError('RAMPART_ROUTE_NOT_FOUND');
  if (found.kind === 'ambiguous') {
    const other = found.other ? `route ${found.other.info.id}` : 'another route';
    return new GatewayError('RAMPART_ROUTE_NOT_FOUND', { reason: `path matches route ${found.matched.info.id} but differs from ${other} only by case or a trailing slash` });
  }
  if (found.kind === 'method') {
    return new GatewayError('RAMPART_ROUTE_METHOD_NOT_ALLOWED', { headers: { allow: found.allow.join(', ') } });
  }
  const route = found.match.route;
  ex.route = route.info;
  ex.params = found.match.params;
  ex.maxBodyBytes = route.maxBodyBytes;
  ex.jsonLimits = route.jsonLimits;
  if (route.requireClientCertificate && !ex.tls?.clientAuthorized) {
    return new GatewayError('RAMPART_TLS_CLIENT_CERT_REQUIRED', { reason: 'no verified client certificate' });
  }
  const cl = ex.headers['content-length'];
  if (cl !== undefined && Number(cl) > route.maxBodyBytes) {
    return new GatewayError('RAMPART_HYGIENE_BODY_TOO_LARGE', { detail: `The body exceeds ${route.maxBodyBytes} bytes.`, reason: 'content-length over limit' });
  }
  return route;
}

type PhaseResult = { kind: 'denied'; response: GatewayResponse } | { kind: 'reply'; response: GatewayResponse } | { kind: 'through' };

/**
 * The request phase: each stage in order until one denies or replies. With `stopBefore`, stops
 * (kind 'through') when that stage is reached — WebSocket upgrades run everything before the proxy
 * through this same loop, principal and annotations included.
 */
async function requestPhase(ex: Exchange, route: CompiledRoute, logger: Logger, stopBefore?: string): Promise<PhaseResult> {
  for (const stage of route.stages) {
    if (stage.name === stopBefore) return { kind: 'through' };
    if (!stage.onRequest) {
      ex.entered.push(stage);
      continue;
    }
    // Most stages decide synchronously: awaiting a plain value would still cost a microtask turn.
    const pending = stage.onRequest(ex);
    const decision = pending instanceof Promise ? await pending : pending;
    ex.entered.push(stage);
    if (decision.kind === 'next') {
      if (decision.patch) applyPatch(ex, stage, decision.patch.principal, decision.patch.annotations);
      if (decision.patch?.json) {
        if (stage.name !== 'validation') throw new Error(`stage ${stage.name} tried to replace the body`);
        ex.replaceJson(decision.patch.json.value);
      }
      continue;
    }
    if (decision.kind === 'deny') {
      if (stage.mode === 'shadow') {
        logger.info({ requestId: ex.requestId, stage: stage.name, code: decision.error.code, reason: decision.error.reason }, 'shadow mode: would deny');
        ex.annotations.set(`shadow.${stage.name}`, decision.error.code);
        continue;
      }
      return { kind: 'denied', response: errorResponse(ex, decision.error) };
    }
    if (stage.name !== 'proxy') ex.decision = 'reply';
    return { kind: 'reply', response: decision.response };
  }
  return { kind: 'through' };
}

/** Runs the request phase of a route; returns the response to write and whether it is the gateway's own. */
export async function runRoute(ex: Exchange, route: CompiledRoute, logger: Logger): Promise<{ response: GatewayResponse; own: boolean }> {
  const r = await requestPhase(ex, route, logger);
  if (r.kind === 'denied') return { response: r.response, own: true };
  if (r.kind === 'through') throw new Error(`route ${route.info.id} has no stage that answers`);
  const response = r.response;
  // Response phase: in reverse over the stages entered.
  for (let i = ex.entered.length - 1; i >= 0; i--) {
    const stage = ex.entered[i] as Stage;
    if (!stage.onResponse) continue;
    const pending = stage.onResponse(ex, response);
    const d = pending instanceof Promise ? await pending : pending;
    if (d.kind === 'deny') {
      if (stage.mode === 'shadow') continue;
      if (response.body && !Buffer.isBuffer(response.body)) response.body.destroy();
      return { response: errorResponse(ex, d.error), own: true };
    }
  }
  return { response, own: false };
}

/** The request phase of an upgrade, up to the proxy: a response to write, or undefined to go on. */
export async function runUpgradePhase(ex: Exchange, route: CompiledRoute, logger: Logger): Promise<GatewayResponse | undefined> {
  const r = await requestPhase(ex, route, logger, 'proxy');
  return r.kind === 'through' ? undefined : r.response;
}

function applyPatch(ex: Exchange, stage: Stage, principal: Principal | undefined, annotations: Readonly<Record<string, unknown>> | undefined): void {
  if (principal) {
    if (stage.name !== 'authn') throw new Error(`stage ${stage.name} tried to set the principal`);
    ex.principal = principal;
  }
  if (annotations) for (const k in annotations) if (Object.hasOwn(annotations, k)) ex.annotations.set(k, annotations[k]);
}

export function egressContext(ex: Exchange, listener: CompiledListener, route: CompiledRoute | undefined, http2: boolean): EgressContext {
  return {
    requestId: ex.requestId,
    requestIdHeader: listener.ids.header,
    https: listener.config.protocol === 'https',
    egress: route?.egress ?? listener.egress,
    http2,
    method: ex.method,
  };
}

/** Answers with the gateway's own error and publishes the security event of a denial. */
export function errorResponse(ex: Exchange, error: unknown): GatewayResponse {
  if (error instanceof GatewayError) {
    ex.decision = 'deny';
    ex.reasonCode = error.code;
    if (error.ruleId) ex.ruleId = error.ruleId;
    const action = EVENT_ACTIONS[error.code];
    if (action) {
      publishSecurityEvent({
        'event.kind': 'event', 'event.category': ['web'], 'event.action': action,
        'event.outcome': 'failure', 'source.ip': ex.clientIp, 'http.request.method': ex.method, 'url.path': ex.path,
        'http.response.status_code': error.status, 'trace.id': ex.traceId, 'rampart.code': error.code,
        ...(ex.route ? { 'rampart.route': ex.route.id } : {}),
        ...(error.reason ? { 'event.reason': error.reason } : {}),
        ...(error.ruleId ? { 'rule.id': error.ruleId } : {}),
      });
    }
  } else {
    ex.decision = 'error';
    ex.reasonCode = 'RAMPART_GATEWAY_INTERNAL';
  }
  return problemResponse(error, ex.requestId);
}

/**
 * Denials by the core that are security events (probing, enumeration, malformed or oversized
 * requests): the anomaly detection of the monitoring practice counts them. Upstream failures are
 * operational, not security events, and are published by the proxy on its own terms.
 */
const EVENT_ACTIONS: Partial<Record<string, string>> = {
  RAMPART_ROUTE_NOT_FOUND: 'route.not_found',
  RAMPART_ROUTE_METHOD_NOT_ALLOWED: 'route.method_not_allowed',
  RAMPART_TLS_CLIENT_CERT_REQUIRED: 'tls.client_certificate_missing',
  RAMPART_HYGIENE_BAD_REQUEST: 'hygiene.bad_request',
  RAMPART_HYGIENE_PATH_INVALID: 'hygiene.path_invalid',
  RAMPART_HYGIENE_HOST_INVALID: 'hygiene.host_invalid',
  RAMPART_HYGIENE_HOST_NOT_ALLOWED: 'hygiene.host_not_allowed',
  RAMPART_HYGIENE_URI_TOO_LONG: 'hygiene.uri_too_long',
  RAMPART_HYGIENE_HEADERS_TOO_LARGE: 'hygiene.headers_too_large',
  RAMPART_HYGIENE_TOO_MANY_HEADERS: 'hygiene.too_many_headers',
  RAMPART_HYGIENE_BODY_TOO_LARGE: 'hygiene.body_too_large',
  RAMPART_HYGIENE_METHOD_NOT_SUPPORTED: 'hygiene.method_not_supported',
  RAMPART_HYGIENE_UPGRADE_REFUSED: 'hygiene.upgrade_refused',
  RAMPART_HYGIENE_REQUEST_TIMEOUT: 'hygiene.request_timeout',
  RAMPART_HYGIENE_EXPECTATION_FAILED: 'hygiene.expectation_failed',
  RAMPART_HYGIENE_METHOD_OVERRIDE: 'hygiene.method_override',
};

export function logExchange(accessLine: AccessLineWriter, ex: Exchange, route: CompiledRoute | undefined, status: number, aborted: boolean): void {
  const durationMs = Number(process.hrtime.bigint() - ex.startedAt) / 1e6;
  const entry: Record<string, unknown> = {
    requestId: ex.requestId,
    traceId: ex.traceId,
    listener: ex.listener.name,
    clientIp: ex.clientIp,
    method: ex.method,
    route: route?.info.id,
    path: ex.path,
    status,
    bytesOut: ex.bytesOut,
    durationMs: Math.round(durationMs * 1000) / 1000,
    upstream: ex.upstream,
    principal: ex.principal.kind === 'anonymous' ? undefined : `${ex.principal.kind}:${ex.principal.subject}`,
    decision: ex.decision,
    reason: ex.reasonCode,
    ruleId: ex.ruleId,
    httpVersion: ex.httpVersion,
  };
  if (aborted) entry.aborted = true;
  for (const s of ex.entered) {
    try {
      s.onLog?.(ex, entry);
    } catch {
      /* onLog never breaks the log line */
    }
  }
  accessLine(entry);
  if (exchangeChannel.hasSubscribers) exchangeChannel.publish(entry);
}

/**
 * Watches an exchange from the moment it exists: when the client goes away before the response has
 * been written, the exchange is aborted (the upstream request with it), and in every case exactly
 * one access-log line is written when the response closes.
 */
export function trackExchange(res: OutboundResponse, ex: Exchange, accessLine: AccessLineWriter, route: () => CompiledRoute | undefined): void {
  // 'finish' only fires when the whole response was handed over (HTTP/1.1 and HTTP/2 alike);
  // writableFinished is not reliable on a cancelled HTTP/2 stream.
  // on(), not once(): each fires at most once per response, and once() wraps every listener.
  let finished = false;
  res.on('finish', () => {
    finished = true;
  });
  res.on('close', () => {
    // A cancelled HTTP/2 stream (RST_STREAM) still emits 'finish' on the compatibility response.
    const rst = (res as { stream?: { rstCode?: number } }).stream?.rstCode;
    if (rst !== undefined && rst !== 0) finished = false;
    if (!finished) ex.abort(new Error('client went away'));
    // 499 (nginx's "client closed request") in the log only, when no status was ever sent.
    logExchange(accessLine, ex, route(), ex.status || 499, !finished);
  });
}

export function writeFor(res: OutboundResponse, ex: Exchange, response: GatewayResponse, own: boolean, egress: EgressContext): Promise<void> {
  if (response.upstream) ex.upstream = response.upstream;
  ex.status = response.status;
  return writeResponse(res, response, egress, own, (n) => {
    ex.bytesOut += n;
  });
}

function str(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v.join(',') : v;
}

/** A path for the log line when normalisation failed: printable ASCII only, bounded. */
function safeLogPath(url: string): string {
  const p = url.split('?')[0] ?? '';
  return p.replace(/[^\x21-\x7e]/g, '?').slice(0, 256);
}
