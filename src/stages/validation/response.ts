/**
 * The response contract (`responseContract`): the upstream's answer checked against the
 * operation's documented responses — status (exact, `2XX` range, then `default`), declared
 * headers, content type and, for JSON, the body (buffered up to `maxResponseBytes`, decoded when
 * compressed). `filter` removes undeclared and `writeOnly` properties before they leave
 * (excessive data exposure, OWASP API3); `enforce` turns any mismatch into 502; `shadow` only
 * reports. Mismatches that filtering cannot fix (status, content type, unreadable JSON) are 502 in
 * `filter` too: an undocumented answer is not let through by the mode meant to stop leaks.
 */
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { parseJson, type JsonLimits } from '../../core/body/json.ts';
import type { RequestContext } from '../../core/context.ts';
import type { GatewayResponse } from '../../core/stage.ts';
import type { ResponseContract } from './config.ts';
import { bestRange, parseMediaRange } from './media-type.ts';
import type { CompiledOperation, CompiledResponse } from './openapi/compile.ts';
import { fromAjv, type Violation } from './violations.ts';
import { newWalkResult, walk } from './walk.ts';

/** Responses may be larger than requests; these only stop pathological nesting. */
const RESPONSE_LIMITS: JsonLimits = { maxDepth: 256, maxArrayLength: 10_000_000, maxStringLength: 100_000_000, maxProperties: 1_000_000 };

export interface ResponseVerdict {
  /** Violations filtering cannot fix (or, outside filter mode, all of them). */
  readonly blocking: Violation[];
  /** Violations that remain after filtering (reported, not blocking, in filter mode). */
  readonly reported: Violation[];
  /** Pointers of the properties removed (filter). */
  readonly removed: string[];
}

/** Body changes invalidate these (RFC 9110 §8.8.3, RFC 9530). */
const BODY_BOUND_HEADERS = ['content-length', 'etag', 'content-md5', 'digest', 'content-digest', 'repr-digest'];

export async function checkResponse(ctx: RequestContext, op: CompiledOperation, response: GatewayResponse, contract: ResponseContract, maxBytes: number): Promise<ResponseVerdict> {
  const blocking: Violation[] = [];
  const reported: Violation[] = [];
  const removed: string[] = [];
  const status = response.status;
  const declared = op.responses.get(String(status)) ?? op.responses.get(`${Math.floor(status / 100)}XX`) ?? op.responses.get('DEFAULT');
  if (!declared) {
    blocking.push({ in: 'body', rule: 'status' });
    return { blocking, reported, removed };
  }
  checkHeaders(declared, response, blocking);
  const bodiless = ctx.method === 'HEAD' || status === 204 || status === 304;
  const ct = header(response, 'content-type');
  if (declared.media === undefined) {
    const length = header(response, 'content-length');
    if (!bodiless && ct !== undefined && length !== '0') blocking.push({ in: 'body', rule: 'contentType' });
    return { blocking, reported, removed };
  }
  if (bodiless) return { blocking, reported, removed };
  const media = ct === undefined ? undefined : parseMediaRange(ct);
  const documented = media ? bestRange(media.essence, declared.media) : undefined;
  if (!documented) {
    blocking.push({ in: 'body', rule: 'contentType' });
    return { blocking, reported, removed };
  }
  if (!documented.json || !documented.validate) return { blocking, reported, removed };

  const read = await readBody(response, maxBytes);
  if (typeof read === 'string') {
    blocking.push({ in: 'body', rule: read });
    return { blocking, reported, removed };
  }
  let value: unknown;
  try {
    value = parseJson(read.decoded, RESPONSE_LIMITS);
  } catch {
    blocking.push({ in: 'body', rule: 'json' });
    return { blocking, reported, removed };
  }
  if (contract === 'filter') {
    const r = newWalkResult();
    value = walk(value, documented.shape, { strip: true, dropForbidden: true, nfc: false, controlCharacters: false, checks: new Set(), location: 'body' }, r);
    removed.push(...r.removed);
    if (r.removed.length) {
      const body = Buffer.from(JSON.stringify(value));
      for (const h of BODY_BOUND_HEADERS) delete response.headers[h];
      delete response.headers['content-encoding'];
      response.headers['content-length'] = String(body.length);
      response.body = body;
    }
  }
  if (!documented.validate(value)) (contract === 'filter' ? reported : blocking).push(...fromAjv(documented.validate.errors, { in: 'body' }, '', 'writeOnly'));
  return { blocking, reported, removed };
}

function checkHeaders(declared: CompiledResponse, response: GatewayResponse, out: Violation[]): void {
  for (const h of declared.headers) {
    const v = header(response, h.name);
    if (v === undefined) {
      if (h.required) out.push({ in: 'header', parameter: h.name, rule: 'required' });
      continue;
    }
    if (!h.validate) continue;
    const n = /^-?\d+(?:\.\d+)?$/.test(v) ? Number(v) : undefined;
    if (!h.validate(v) && (n === undefined || !h.validate(n))) out.push({ in: 'header', parameter: h.name, rule: h.validate.errors?.[0]?.keyword ?? 'schema' });
  }
}

function header(response: GatewayResponse, name: string): string | undefined {
  const v = response.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

/**
 * Buffers the body (at most maxBytes, decoded at most maxBytes); the response keeps the bytes as
 * received, so that whatever happens next (shadow mode, no change) sends them unchanged.
 */
async function readBody(response: GatewayResponse, maxBytes: number): Promise<{ decoded: Buffer } | string> {
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
