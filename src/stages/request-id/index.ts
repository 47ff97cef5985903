/**
 * request-id: keeps a safe inbound request id (≤ 128 chars of [A-Za-z0-9._-]) or makes one, and
 * propagates W3C Trace Context (https://www.w3.org/TR/trace-context/ §3.2) as a child span.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { StageModule, Stage } from '../../core/stage.ts';

export interface RequestIdConfig {
  /** The header read from clients and sent to upstreams and back. */
  readonly header: string;
  /** Keep a safe inbound id (false: always generate). */
  readonly trustInbound: boolean;
}

const SAFE_ID = /^[A-Za-z0-9._-]{1,128}$/;
// version 00: 2 hex version, 32 hex trace-id, 16 hex parent-id, 2 hex flags (trace-context §3.2.2)
const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(?:-.*)?$/;

export interface RequestIds {
  readonly requestId: string;
  readonly traceId: string;
  readonly traceparent: string;
}

/** 128 random bits as 32 hex digits, from randomUUID's cached entropy pool (no syscall per call). */
function randomHex32(): string {
  const u = randomUUID();
  // A v4 UUID fixes 6 bits (version and variant): the trace id keeps 122 random bits, well within
  // trace-context's "SHOULD be random" (§3.2.2.3); a span id takes 64 of them.
  return u.slice(0, 8) + u.slice(9, 13) + u.slice(14, 18) + u.slice(19, 23) + u.slice(24);
}

export function resolveIds(headers: IncomingHttpHeaders, config: RequestIdConfig): RequestIds {
  const inbound = headers[config.header];
  const requestId = config.trustInbound && typeof inbound === 'string' && SAFE_ID.test(inbound) ? inbound : randomUUID();
  const spanId = randomHex32().slice(16);
  const tp = headers.traceparent;
  const m = typeof tp === 'string' ? TRACEPARENT.exec(tp.trim()) : null;
  // §3.2.2.3–5: version ff is invalid; all-zero trace-id or parent-id is invalid; then restart the trace.
  if (m && m[1] !== 'ff' && m[2] !== '0'.repeat(32) && m[3] !== '0'.repeat(16) && (m[1] !== '00' || tp?.length === 55)) {
    const traceId = m[2] as string;
    return { requestId, traceId, traceparent: `00-${traceId}-${spanId}-${m[4]}` };
  }
  const traceId = randomHex32();
  return { requestId, traceId, traceparent: `00-${traceId}-${spanId}-01` };
}

export const requestIdStage: StageModule<RequestIdConfig> = {
  name: 'request-id',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      header: { type: 'string', pattern: '^[a-z0-9-]{1,64}$' },
      trustInbound: { type: 'boolean' },
    },
  },
  defaults: { header: 'x-request-id', trustInbound: true },
  compile(config): Stage & { resolve(headers: IncomingHttpHeaders): RequestIds; readonly header: string } {
    return { name: 'request-id', header: config.header, resolve: (h) => resolveIds(h, config) };
  },
};
