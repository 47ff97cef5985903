/**
 * The response contract (`responseContract`): the upstream's answer checked against the
 * operation's documented responses — status (exact, `2XX` range, then `default`), declared
 * headers, content type and, for JSON, the body (buffered up to `maxResponseBytes`, decoded when
 * compressed). `filter` removes undeclared and `writeOnly` properties before they leave
 * (excessive data exposure, OWASP API3); `enforce` turns any mismatch into 502; `shadow` only
 * reports. Mismatches that filtering cannot fix (status, content type, unreadable JSON) are 502 in
 * `filter` too: an undocumented answer is not let through by the mode meant to stop leaks.
 */
import { parseJson } from '../../core/body/json.ts';
import { bufferResponse, RESPONSE_JSON_LIMITS } from '../../core/body/response.ts';
import type { RequestContext } from '../../core/context.ts';
import type { GatewayResponse } from '../../core/stage.ts';
import type { ResponseContract } from './config.ts';
import { bestRange, parseMediaRange } from '../../core/http/media-type.ts';
import type { CompiledOperation, CompiledResponse } from './openapi/compile.ts';
import { fromAjv, type Violation } from './violations.ts';
import { newWalkResult, walk } from './walk.ts';


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

  const read = await bufferResponse(response, maxBytes);
  if (typeof read === 'string') {
    blocking.push({ in: 'body', rule: read });
    return { blocking, reported, removed };
  }
  let value: unknown;
  try {
    value = parseJson(read.decoded, RESPONSE_JSON_LIMITS);
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

