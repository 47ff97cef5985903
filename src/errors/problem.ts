import { CATALOG, problemType, type ErrorCode } from './catalog.ts';

/**
 * A gateway error: a catalog code, optional public detail, and a private detail for the log only.
 * Public text and log text are different fields (STYLE.md, oidc-provider); a 5xx never explains
 * itself to the client.
 */
export class GatewayError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Safe for the client: never request data, never upstream text. */
  readonly publicDetail: string | undefined;
  /** For the log line only. */
  readonly reason: string | undefined;
  /** Extra response headers (Allow, Retry-After, WWW-Authenticate, …). */
  readonly headers: Readonly<Record<string, string>>;
  /** Extra public members of the problem document (e.g. `errors` of validation). */
  readonly extensions: Readonly<Record<string, unknown>>;
  /** The policy rule behind a denial (access log `ruleId`, security event `rule.id`); never sent. */
  readonly ruleId: string | undefined;

  constructor(
    code: ErrorCode,
    options: {
      detail?: string;
      reason?: string;
      status?: number;
      headers?: Record<string, string>;
      extensions?: Record<string, unknown>;
      ruleId?: string;
      cause?: unknown;
    } = {},
  ) {
    // A denial is an expected answer, not a fault: no stack trace (capturing one costs more than
    // deciding most requests, and a trace never goes to a client or a log line anyway).
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(options.reason ?? code, options.cause === undefined ? undefined : { cause: options.cause });
    Error.stackTraceLimit = limit;
    this.name = 'GatewayError';
    this.code = code;
    this.status = options.status ?? CATALOG[code].status;
    this.publicDetail = options.detail;
    this.reason = options.reason;
    this.headers = options.headers ?? {};
    this.extensions = options.extensions ?? {};
    this.ruleId = options.ruleId;
  }
}

export interface ProblemDocument {
  type: string;
  title: string;
  status: number;
  code: ErrorCode;
  requestId: string;
  detail?: string;
  [extension: string]: unknown;
}

/** RFC 9457 §3: the problem details object. Unknown errors become a bare internal error. */
export function toProblem(error: unknown, requestId: string): ProblemDocument {
  const err = error instanceof GatewayError ? error : new GatewayError('RAMPART_GATEWAY_INTERNAL');
  const doc: ProblemDocument = {
    ...err.extensions,
    type: problemType(err.code),
    title: CATALOG[err.code].title,
    status: err.status,
    code: err.code,
    requestId,
  };
  // RFC 9457 §3.1.4: detail explains this occurrence — only where it is safe, never on a 5xx.
  if (err.publicDetail !== undefined && err.status < 500) doc.detail = err.publicDetail;
  return doc;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
