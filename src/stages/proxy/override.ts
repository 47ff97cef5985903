/**
 * The method the gateway authorized is the method the upstream runs (OWASP API5): a `_method` in a
 * POST's JSON, form or multipart body (src/core/http/method-override.ts) is refused where the body leaves,
 * before an upstream concurrency slot is taken, whatever mode the policy stages run in. Such
 * bodies are read (bounded by the route's byte limit) to be checked; other bodies stay streams.
 */
import type { RequestContext } from '../../core/context.ts';
import { bodyMedia, hasMethodOverride, multipartOverride } from '../../core/http/method-override.ts';
import { JsonParseError, parseJson, type JsonLimits } from '../../core/body/json.ts';
import { GatewayError } from '../../errors/problem.ts';
import { clientGone } from './route-proxy.ts';

const DETAIL = 'A `_method` field does not change the request method.';

/**
 * Only the top-level members matter here: limits that stop pathological nesting, not the route's
 * validation limits (a route without validation keeps accepting large documents).
 */
const LIMITS: JsonLimits = { maxDepth: 256, maxArrayLength: 100_000_000, maxStringLength: 1_000_000_000, maxProperties: 100_000_000 };

export async function bodyOverride(ctx: RequestContext): Promise<GatewayError | undefined> {
  // Frameworks honour a body override on POST only (Rack::MethodOverride, Laravel, Symfony,
  // Express's method-override): other methods keep their bodies streaming.
  if (ctx.method !== 'POST') return undefined;
  const media = bodyMedia(ctx.headers['content-type']);
  if (media.kind === 'other') return undefined;
  // A compressed form or document cannot be checked (body parsers decompress it by default).
  const coding = ctx.headers['content-encoding'];
  if (coding !== undefined && String(coding).trim().toLowerCase() !== 'identity') {
    return new GatewayError('RAMPART_BODY_ENCODING_UNSUPPORTED', { headers: { 'accept-encoding': 'identity' }, reason: `content-encoding on a ${media.kind} body` });
  }
  let bytes: Buffer;
  try {
    bytes = await ctx.body();
  } catch (err) {
    return err instanceof GatewayError ? err : clientGone('request body not received', err);
  }
  if (bytes.length === 0) return undefined;
  if (media.kind === 'json') {
    let value: unknown;
    try {
      value = parseJson(bytes, LIMITS);
    } catch (err) {
      // Refused, not passed: a lenient parser (duplicate keys: the last wins) may find an override.
      if (err instanceof JsonParseError) return new GatewayError('RAMPART_BODY_JSON_INVALID', { reason: `JSON ${err.rule}`, extensions: { errors: [{ rule: err.rule }] } });
      throw err;
    }
    return value !== null && typeof value === 'object' && !Array.isArray(value) && hasMethodOverride(Object.keys(value))
      ? new GatewayError('RAMPART_HYGIENE_METHOD_OVERRIDE', { detail: DETAIL, reason: '_method in a JSON body' })
      : undefined;
  }
  if (media.kind === 'form') {
    return hasMethodOverride(new URLSearchParams(bytes.toString('latin1')).keys())
      ? new GatewayError('RAMPART_HYGIENE_METHOD_OVERRIDE', { detail: DETAIL, reason: '_method in a form body' })
      : undefined;
  }
  const found = multipartOverride(bytes, media.boundary);
  if (found === 'override') return new GatewayError('RAMPART_HYGIENE_METHOD_OVERRIDE', { detail: DETAIL, reason: '_method in a multipart body' });
  if (found === 'malformed') return new GatewayError('RAMPART_HYGIENE_BAD_REQUEST', { detail: 'The multipart body cannot be read one way only: one boundary, CRLF lines, no preamble, form-data parts, a closing delimiter.', reason: 'ambiguous multipart body' });
  return undefined;
}
