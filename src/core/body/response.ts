/**
 * A response body buffered for a response-phase stage that must read it (validation's response
 * contract, authz's response ownership): at most maxBytes, decoded when compressed. The response
 * keeps the bytes as received, so whatever happens next sends them unchanged.
 */
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import type { GatewayResponse } from '../stage.ts';
import type { JsonLimits } from './json.ts';

/** Responses may be larger than requests; these only stop pathological nesting. */
export const RESPONSE_JSON_LIMITS: JsonLimits = { maxDepth: 256, maxArrayLength: 10_000_000, maxStringLength: 100_000_000, maxProperties: 1_000_000 };

export type Buffered = { readonly decoded: Buffer } | 'tooLarge' | 'unreadable' | 'encoding';

function header(response: GatewayResponse, name: string): string | undefined {
  const v = response.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Buffers the body (at most maxBytes, decoded at most maxBytes); the response keeps the bytes as
 * received, so that whatever happens next (shadow mode, no change) sends them unchanged.
 */
export async function bufferResponse(response: GatewayResponse, maxBytes: number): Promise<Buffered> {
  const declared = header(response, 'content-length');
  if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > maxBytes) return 'tooLarge';
  let raw: Buffer;
  if (response.body === null) raw = Buffer.alloc(0);
  else if (Buffer.isBuffer(response.body)) raw = response.body;
  else {
    const chunks: Buffer[] = [];
    let size = 0;
    const source = response.body;
    const it = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
    try {
      for (;;) {
        const r = await it.next();
        if (r.done) break;
        chunks.push(r.value);
        size += r.value.length;
        if (size > maxBytes) {
          // Too large to check: the response goes on as a stream, the bytes read first included
          // (sent in shadow mode; refused otherwise).
          response.body = Readable.from(rest(chunks, it));
          return 'tooLarge';
        }
      }
    } catch {
      response.body = Buffer.concat(chunks);
      return 'unreadable';
    }
    raw = Buffer.concat(chunks, size);
    response.body = raw;
  }
  const coding = header(response, 'content-encoding')?.trim().toLowerCase();
  if (coding === undefined || coding === '' || coding === 'identity') return { decoded: raw };
  try {
    const opts = { maxOutputLength: maxBytes };
    if (coding === 'gzip' || coding === 'x-gzip') return { decoded: zlib.gunzipSync(raw, opts) };
    if (coding === 'deflate') return { decoded: zlib.inflateSync(raw, opts) };
    if (coding === 'br') return { decoded: zlib.brotliDecompressSync(raw, opts) };
    if (coding === 'zstd' && typeof (zlib as { zstdDecompressSync?: unknown }).zstdDecompressSync === 'function') {
      return { decoded: (zlib as unknown as { zstdDecompressSync(b: Buffer, o: object): Buffer }).zstdDecompressSync(raw, opts) };
    }
  } catch {
    return 'encoding';
  }
  return 'encoding';
}

async function* rest(first: Buffer[], it: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  yield* first;
  for (;;) {
    const r = await it.next();
    if (r.done) return;
    yield r.value;
  }
}
