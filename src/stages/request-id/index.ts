/**
 * request-id: keeps a safe inbound request id (≤ 128 chars of [A-Za-z0-9._-]) or makes one, and
 * propagates W3C Trace Context (https://www.w3.org/TR/trace-context/ §3.2) as a child span.
 */
import { randomFillSync, randomUUID } from 'node:crypto';
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

/**
 * Random bytes for trace and span ids, drawn from a pool refilled 4 KB at a time (one call into
 * OpenSSL per ~170 requests) and hex-encoded straight from it: trace-context §3.2.2.3 asks for
 * random ids, not for a fresh system call per id.
 */
const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let offset = POOL_BYTES;

function randomHex(bytes: number): string {
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const hex = pool.toString('hex', offset, offset + bytes);
  offset += bytes;
  return hex;
}

const ZERO_TRACE = '0'.repeat(32);
const ZERO_SPAN = '0'.repeat(16);

/** A random id of `bytes` bytes that is not all zeros (trace-context §3.2.2.3–4: invalid). */
function randomId(bytes: number, zero: string): string {
  let id = randomHex(bytes);
  while (id === zero) id = randomHex(bytes);
  return id;
}

export function resolveIds(headers: IncomingHttpHeaders, config: RequestIdConfig): RequestIds {
  const inbound = headers[config.header];
  const requestId = config.trustInbound && typeof inbound === 'string' && SAFE_ID.test(inbound) ? inbound : randomUUID();
  const spanId = randomId(8, ZERO_SPAN);
  const tp = headers.traceparent;
  const m = typeof tp === 'string' ? TRACEPARENT.exec(tp.trim()) : null;
  // §3.2.2.3–5: version ff is invalid; all-zero trace-id or parent-id is invalid; then restart the trace.
  if (m && m[1] !== 'ff' && m[2] !== ZERO_TRACE && m[3] !== ZERO_SPAN && (m[1] !== '00' || tp?.length === 55)) {
    const traceId = m[2] as string;
    return { requestId, traceId, traceparent: `00-${traceId}-${spanId}-${m[4]}` };
  }
  const traceId = randomId(16, ZERO_TRACE);
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
