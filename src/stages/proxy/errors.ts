/**
 * Upstream failures as catalog errors. The client gets a code and a title, never the upstream's
 * text or an undici message; the private reason goes to the log (STYLE: public text and log text
 * are different fields).
 */
import { GatewayError } from '../../errors/problem.ts';

export interface Failure {
  readonly error: GatewayError;
  /** Counts against the target's passive health and the circuit breaker. */
  readonly upstreamFault: boolean;
  /** Safe to try again for an idempotent request: no response byte was received. */
  readonly retryable: boolean;
  /** The certificate of the upstream failed verification (worth an ops event). */
  readonly tls: boolean;
}

const CONNECT = new Set(['UND_ERR_CONNECT_TIMEOUT', 'ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL', 'EHOSTDOWN']);
const CLOSED = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);
const PROTOCOL = new Set(['HTTPParserError', 'UND_ERR_HEADERS_OVERFLOW', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'UND_ERR_INFO']);
// OpenSSL verification results (X509_V_ERR_*) and Node's TLS codes.
const TLS = /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|CERT_|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|HOSTNAME_MISMATCH|ERR_OSSL_)/;

export function errorCode(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : err instanceof Error ? err.name : 'unknown';
}

export function classify(err: unknown): Failure {
  const code = errorCode(err);
  const reason = `upstream ${code}`;
  if (CONNECT.has(code)) return failure(new GatewayError('RAMPART_UPSTREAM_CONNECT_FAILED', { reason, cause: err }), true, true);
  if (TLS.test(code)) return { ...failure(new GatewayError('RAMPART_UPSTREAM_CONNECT_FAILED', { reason: `upstream TLS ${code}`, cause: err }), true, true), tls: true };
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return failure(new GatewayError('RAMPART_UPSTREAM_TIMEOUT', { reason, cause: err }), true, true);
  // A connection closed without an answer: no valid HTTP response (safe to retry, nothing came back).
  if (CLOSED.has(code)) return failure(new GatewayError('RAMPART_UPSTREAM_PROTOCOL_ERROR', { reason: `${reason}: connection closed before a response`, cause: err }), true, true);
  if (code.startsWith('HPE_') || PROTOCOL.has(code)) return failure(new GatewayError('RAMPART_UPSTREAM_PROTOCOL_ERROR', { reason, cause: err }), true, false);
  if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED') return failure(new GatewayError('RAMPART_UPSTREAM_UNAVAILABLE', { reason: `${reason}: pool closed`, cause: err }), false, true);
  return failure(new GatewayError('RAMPART_GATEWAY_INTERNAL', { reason: `proxy ${code}`, cause: err }), false, false);
}

function failure(error: GatewayError, upstreamFault: boolean, retryable: boolean): Failure {
  return { error, upstreamFault, retryable, tls: false };
}
