/**
 * Bodies in both directions, kept as streams: the request body is peeked (to tell a bodyless
 * request from a streamed one without buffering it), the response body is counted and cut at
 * `maxResponseBytes` (S11).
 */
import type { Readable } from 'node:stream';
import { GatewayError } from '../../errors/problem.ts';

/**
 * Waits for the first chunk of `stream`: resolves null when it ends empty, else the same stream
 * with the chunk put back. Rejects with the stream's error (e.g. the 413 of requestStream()).
 */
export function peekBody(stream: Readable, signal: AbortSignal): Promise<Readable | null> {
  return new Promise((resolve, reject) => {
    const settle = (value: Readable | null, error?: unknown): void => {
      stream.off('readable', onReadable);
      stream.off('end', onEnd);
      stream.off('error', onError);
      signal.removeEventListener('abort', onAbort);
      if (error === undefined) resolve(value);
      else reject(error);
    };
    const onReadable = (): void => {
      const chunk: unknown = stream.read();
      if (chunk === null) return; // at the end: 'end' follows
      stream.unshift(chunk);
      settle(stream);
    };
    const onEnd = (): void => settle(null);
    const onError = (e: unknown): void => settle(null, e);
    const onAbort = (): void => settle(null, signal.reason ?? new Error('aborted'));
    if (signal.aborted) return onAbort();
    stream.on('readable', onReadable);
    stream.once('end', onEnd);
    stream.once('error', onError);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

export interface CappedBody {
  readonly body: Readable;
  /** Bytes that went through so far. */
  bytes(): number;
}

/**
 * Passes `source` through, counting bytes. Past `max` the stream is destroyed with
 * RAMPART_UPSTREAM_RESPONSE_TOO_LARGE (headers are gone by then: the client response is aborted).
 * Errors of `source` (e.g. the body timeout) become `mapError(err)`; destroying the returned
 * stream (the client went away) destroys `source`, which aborts the upstream request.
 */
export function capBody(source: Readable, max: number, mapError: (err: unknown) => Error): CappedBody {
  // No extra Transform in the path (one stream less per response: docs/performance.md): the
  // upstream body itself is counted as it flows and destroyed past the cap.
  let size = 0;
  const onData = (chunk: Buffer): void => {
    size += chunk.length;
    if (size > max) {
      source.off('data', onData);
      source.destroy(new GatewayError('RAMPART_UPSTREAM_RESPONSE_TOO_LARGE', { reason: `upstream body passed maxResponseBytes (${max})` }));
    }
  };
  source.on('data', onData);
  // Errors keep their catalog meaning for whoever logs them (a body timeout, a reset).
  const wrapped = Object.assign(source, { [MAPPED]: mapError });
  return { body: wrapped, bytes: () => size };
}

/** The error mapping of a capped body, for its error listener (see respond.ts). */
export const MAPPED = Symbol('rampart.capBody.mapError');

export function mappedError(body: Readable, err: unknown): unknown {
  if (err instanceof GatewayError) return err;
  const map = (body as { [MAPPED]?: (e: unknown) => Error })[MAPPED];
  return map ? map(err) : err;
}
