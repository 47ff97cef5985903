/**
 * Writing responses: the gateway's own problem+json answers and proxied/replied responses, with the
 * egress headers (security headers, request id) applied to every one of them.
 */
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { Readable } from 'node:stream';
import { HOP_BY_HOP, connectionTokens } from './http/hop-by-hop.ts';
import { PROBLEM_CONTENT_TYPE, toProblem, GatewayError } from '../errors/problem.ts';
import type { EgressHeaders } from '../stages/headers/index.ts';
import type { GatewayResponse, OutgoingHeaders } from './stage.ts';

export type OutboundResponse = ServerResponse | Http2ServerResponse;

export interface EgressContext {
  readonly requestId: string;
  readonly requestIdHeader: string;
  readonly https: boolean;
  readonly egress: EgressHeaders;
  readonly http2: boolean;
  readonly method: string;
}


function headersFor(res: GatewayResponse, ctx: EgressContext, own: boolean): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const listed = connectionTokens(res.headers.connection);
  const headers = res.headers;
  for (const k in headers) {
    if (!Object.hasOwn(headers, k)) continue;
    const v = headers[k] as string | string[];
    const name = k.toLowerCase();
    if (HOP_BY_HOP.has(name) || listed.has(name) || name === 'proxy-authenticate' || name.startsWith(':')) continue;
    out[name] = v;
  }
  ctx.egress.apply(out, ctx.https, own);
  out[ctx.requestIdHeader] = ctx.requestId;
  return out;
}

export function problemResponse(error: unknown, requestId: string): GatewayResponse {
  const doc = toProblem(error, requestId);
  const body = Buffer.from(JSON.stringify(doc));
  const headers: OutgoingHeaders = { 'content-type': PROBLEM_CONTENT_TYPE, 'content-length': String(body.length) };
  if (error instanceof GatewayError) for (const [k, v] of Object.entries(error.headers)) headers[k.toLowerCase()] = v;
  return { status: doc.status, headers, body };
}

/**
 * Writes a response. Returns a promise that settles when the body is fully written (or the
 * exchange broke off); it never rejects.
 */
export function writeResponse(res: OutboundResponse, response: GatewayResponse, ctx: EgressContext, own: boolean, onBytes: (n: number) => void): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      write(res, response, ctx, own, onBytes, resolve);
    } catch {
      // Never a rejection on the data plane: the client is gone or the response is unusable.
      destroyBody(response.body);
      if (!res.destroyed) res.destroy();
      resolve();
    }
  });
}

function write(res: OutboundResponse, response: GatewayResponse, ctx: EgressContext, own: boolean, onBytes: (n: number) => void, resolve: () => void): void {
  {
    const stream = (res as { stream?: { destroyed?: boolean } }).stream;
    if (res.headersSent || res.writableEnded || res.destroyed || stream?.destroyed) {
      // The client went away while the request phase ran: nothing to write to.
      destroyBody(response.body);
      resolve();
      return;
    }
    const headers = headersFor(response, ctx, own);
    const noBody = ctx.method === 'HEAD' || response.status === 204 || response.status === 304;
    try {
      (res as ServerResponse).writeHead(response.status, headers);
    } catch {
      // A header value the runtime refuses (e.g. an upstream's invalid characters): fail closed.
      const fallback = problemResponse(new GatewayError('RAMPART_UPSTREAM_PROTOCOL_ERROR', { reason: 'invalid response header' }), ctx.requestId);
      destroyBody(response.body);
      if (!res.headersSent) (res as ServerResponse).writeHead(fallback.status, headersFor(fallback, ctx, true));
      (res as ServerResponse).end(fallback.body as Buffer);
      resolve();
      return;
    }
    const body = response.body;
    if (body === null || noBody) {
      destroyBody(body);
      res.end();
      resolve();
      return;
    }
    if (Buffer.isBuffer(body)) {
      onBytes(body.length);
      res.end(body);
      resolve();
      return;
    }
    // Neither pipeline() nor pipe(): one 'data' listener writes, counts and applies backpressure
    // (pause until the response drains); pipe() would add six more listeners per response on the
    // two streams, pipeline() error objects and end-of-stream watchers (docs/performance.md).
    // Errors and early closes are handled below.
    const trailers = response.trailers;
    let settled = false;
    const done = () => {
      if (settled) return;
      settled = true;
      resolve();
    };
    const onDrain = () => body.resume();
    body.on('data', (chunk: Buffer) => {
      onBytes(chunk.length);
      if (!(res as ServerResponse).write(chunk)) {
        body.pause();
        res.once('drain', onDrain);
      }
    });
    body.on('end', () => {
      const t = trailers?.();
      if (t && Object.keys(t).length) {
        try {
          (res as ServerResponse).addTrailers(t);
        } catch {
          /* invalid trailer names are dropped */
        }
      }
      res.end(done);
    });
    // The upstream body failed mid-stream (timeout, cap, reset): the headers are gone, so the
    // client response is cut rather than ended as if complete.
    body.on('error', () => {
      res.destroy();
      done();
    });
    res.on('close', () => {
      if (!body.destroyed && !body.readableEnded) body.destroy();
      done();
    });
  }
}

function destroyBody(body: GatewayResponse['body']): void {
  if (body instanceof Readable) body.destroy();
}
