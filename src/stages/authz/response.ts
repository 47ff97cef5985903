/**
 * Response ownership (OWASP API1): the upstream's answer must belong to the caller before it is
 * returned — the owner field of the object, or of every element when the answer (or the array at
 * `items`) is a list, so one foreign element in a mixed list refuses the whole answer. An answer
 * that cannot be read (not JSON, too large, an unknown encoding, a missing field) is refused too:
 * what cannot be checked is not let through.
 */
import { parseJson } from '../../core/body/json.ts';
import { isJsonContentType } from '../../core/http/media-type.ts';
import { bufferResponse, RESPONSE_JSON_LIMITS } from '../../core/body/response.ts';
import type { GatewayResponse } from '../../core/stage.ts';
import { at, sameOwner } from './evaluate.ts';
import type { CompiledOwnership } from './policy.ts';

export type ResponseCheck = { readonly ok: true } | { readonly ok: false; readonly kind: 'mismatch' | 'unverified'; readonly reason: string };

const OK: ResponseCheck = { ok: true };

export async function checkResponseOwner(o: CompiledOwnership, owner: string, method: string, response: GatewayResponse, maxBytes: number): Promise<ResponseCheck> {
  const spec = o.response;
  if (!spec) return OK;
  // Errors carry no object; bodiless answers carry nothing to leak.
  if (response.status < 200 || response.status >= 300 || response.status === 204 || method === 'HEAD') return OK;
  const type = response.headers['content-type'];
  if (!isJsonContentType(type)) return { ok: false, kind: 'unverified', reason: `content type ${String(type ?? 'absent').slice(0, 100)} is not JSON` };
  const read = await bufferResponse(response, maxBytes);
  if (typeof read === 'string') return { ok: false, kind: 'unverified', reason: `body ${read}` };
  let value: unknown;
  try {
    value = parseJson(read.decoded, RESPONSE_JSON_LIMITS);
  } catch {
    return { ok: false, kind: 'unverified', reason: 'body is not valid JSON' };
  }
  const target = spec.items ? at(value, spec.items) : value;
  if (target === undefined) return { ok: false, kind: 'unverified', reason: `no array at ${spec.text}` };
  const elements = Array.isArray(target) ? target : [target];
  for (let i = 0; i < elements.length; i++) {
    const v = at(elements[i], spec.field);
    if (v === undefined) return { ok: false, kind: 'unverified', reason: `element ${i} has no ${spec.field.join('.')}` };
    if (!sameOwner(v, owner)) return { ok: false, kind: 'mismatch', reason: Array.isArray(target) ? `element ${i} of ${elements.length} belongs to someone else` : 'the object belongs to someone else' };
  }
  return OK;
}
