/**
 * The request half of validation, in the order a client can fix things: the operation (404/405),
 * its parameters (400), the content type (415), the body — parsed once by the core with the
 * route's structure limits (400/413/415) — against its schema (422), then sanitization (400).
 */
import type { RequestContext } from '../../core/context.ts';
import { GatewayError } from '../../errors/problem.ts';
import type { ErrorCode } from '../../errors/catalog.ts';
import type { ValidationConfig } from './config.ts';
import type { InjectionCheck } from './detect/index.ts';
import { allowedBy, bestRange, parseMediaRange } from '../../core/http/media-type.ts';
import type { CompiledDocument, CompiledMedia, CompiledOperation } from './openapi/compile.ts';
import { documentPath } from './openapi/paths.ts';
import { parseCookies, parseQuery, readParameter, type RequestParameters } from './params.ts';
import { fromAjv, capped, type Violation } from './violations.ts';
import { newWalkResult, walk, type WalkResult } from './walk.ts';

export type RequestOutcome =
  | { readonly kind: 'pass'; readonly operation: CompiledOperation | undefined; readonly json?: { readonly value: unknown }; readonly shadowFindings?: readonly Violation[] }
  | { readonly kind: 'deny'; readonly error: GatewayError; readonly action: string; readonly operation?: CompiledOperation };

export interface RequestValidator {
  readonly doc: CompiledDocument;
  readonly basePath: string;
  readonly config: ValidationConfig;
  readonly checks: ReadonlySet<InjectionCheck>;
}

const SAFE_NAME = /^[A-Za-z0-9_.$@:~[\]-]{1,64}$/;
const safeName = (n: string) => (SAFE_NAME.test(n) ? n : '*');

function refuse(code: ErrorCode, action: string, errors: Violation[] | undefined, reason: string, headers?: Record<string, string>, operation?: CompiledOperation): RequestOutcome {
  return {
    kind: 'deny',
    action,
    ...(operation ? { operation } : {}),
    error: new GatewayError(code, { reason, ...(headers ? { headers } : {}), ...(errors ? { extensions: { errors: capped(errors) } } : {}) }),
  };
}

export function findOperation(v: RequestValidator, ctx: RequestContext): { op: CompiledOperation; params: Record<string, string> } | RequestOutcome {
  const docPath = documentPath(ctx.path, v.basePath);
  const m = docPath === undefined ? undefined : v.doc.paths.match(docPath);
  if (!m) {
    if (v.config.unknownOperations === 'allow') return { kind: 'pass', operation: undefined };
    return refuse('RAMPART_VALIDATION_OPERATION_UNKNOWN', 'validation.operation_unknown', undefined, 'path not in the OpenAPI document');
  }
  // RFC 9110 §9.3.2: HEAD is GET without content.
  const op = m.value.get(ctx.method) ?? (ctx.method === 'HEAD' ? m.value.get('GET') : undefined);
  if (!op) {
    if (v.config.unknownOperations === 'allow') return { kind: 'pass', operation: undefined };
    const allow = [...m.value.keys()];
    if (allow.includes('GET') && !allow.includes('HEAD')) allow.push('HEAD');
    return refuse('RAMPART_VALIDATION_METHOD_UNKNOWN', 'validation.method_unknown', undefined, `${ctx.method} not documented for ${m.template}`, { allow: allow.join(', ') });
  }
  return { op, params: m.params };
}

export async function validateRequest(v: RequestValidator, ctx: RequestContext): Promise<RequestOutcome> {
  const found = findOperation(v, ctx);
  if ('kind' in found) return found;
  const { op, params } = found;
  const findings: Violation[] = [];

  // Parameters (OAS 3.1 §4.8.12).
  const query = parseQuery(ctx.query);
  const req: RequestParameters = {
    path: params,
    query,
    headers: ctx.headers,
    cookies: op.parameters.some((p) => p.in === 'cookie') ? parseCookies(ctx.headers.cookie) : new Map(),
  };
  const violations: Violation[] = query === undefined ? [{ in: 'query', rule: 'encoding' }] : [];
  const used = new Set<string>();
  for (const p of op.parameters) {
    const read = readParameter(p, req, used);
    if ('error' in read) {
      violations.push({ in: p.in, parameter: p.name, rule: read.error });
      continue;
    }
    if (!read.present) {
      if (p.required) violations.push({ in: p.in, parameter: p.name, rule: 'required' });
      continue;
    }
    const r = newWalkResult();
    const value = walk(read.value, p.shape, { strip: false, dropForbidden: false, nfc: true, controlCharacters: v.config.controlCharacters === 'deny', checks: v.checks, location: p.in, parameter: p.name }, r);
    findings.push(...r.findings);
    if (!p.validate(value)) violations.push(...fromAjv(p.validate.errors, { in: p.in, parameter: p.name }));
  }
  if (query && v.config.unknownQueryParameters === 'deny') {
    for (const name of query.keys()) if (!used.has(name)) violations.push({ in: 'query', parameter: safeName(name), rule: 'unknownParameter' });
  }
  // Unsafe input is reported before schema violations: it is the finding that matters (an
  // operator object where a string belongs is a NoSQL injection first, a type error second).
  if (findings.length && v.config.injection.mode === 'enforce') return unsafe(findings, op);
  if (violations.length) return refuse('RAMPART_VALIDATION_PARAMETER_INVALID', 'validation.parameter_invalid', violations, `${violations.length} parameter violation(s) in ${op.id}`, undefined, op);

  // Body (OAS 3.1 §4.8.13): content type, then the one JSON parse, then the schema.
  const contentType = ctx.headers['content-type'];
  const declaredLength = ctx.headers['content-length'];
  let json: { value: unknown } | undefined;
  if (op.body === undefined) {
    // Read even without Content-Length: chunked (HTTP/1.1) and HTTP/2 bodies announce no length,
    // and a body nobody checked must not reach the service (S11).
    // A WebSocket opening handshake carries no body (RFC 6455 §4.1) and its stream is the tunnel's.
    if (declaredLength !== '0' && ctx.headers['sec-websocket-key'] === undefined) {
      const bytes = await ctx.body();
      if (bytes.length > 0) return refuse('RAMPART_VALIDATION_CONTENT_TYPE_UNSUPPORTED', 'validation.content_type_unsupported', [{ in: 'body', rule: 'noBody' }], `${op.id} takes no body`, undefined, op);
    }
  } else {
    const coding = ctx.headers['content-encoding'];
    if (coding !== undefined && String(coding).trim().toLowerCase() !== 'identity') {
      // S10: a body the gateway cannot read is a body it cannot check (RFC 7694 §3).
      return refuse('RAMPART_BODY_ENCODING_UNSUPPORTED', 'body.encoding_unsupported', undefined, 'content-encoding on a validated body', { 'accept-encoding': 'identity' }, op);
    }
    const bytes = await ctx.body();
    if (bytes.length === 0) {
      if (op.body.required) return refuse('RAMPART_VALIDATION_BODY_INVALID', 'validation.body_invalid', [{ in: 'body', pointer: '', rule: 'required' }], `${op.id} requires a body`, undefined, op);
    } else {
      const accepted = typeof contentType === 'string' ? acceptContentType(v, op, contentType) : 'contentType';
      if (typeof accepted === 'string') {
        return refuse('RAMPART_VALIDATION_CONTENT_TYPE_UNSUPPORTED', 'validation.content_type_unsupported', [{ in: 'body', rule: accepted }], `content type not accepted by ${op.id} (${accepted})`, undefined, op);
      }
      const documented = accepted;
      if (documented.json) {
        let value: unknown;
        try {
          value = await ctx.json();
        } catch (err) {
          if (!(err instanceof GatewayError)) throw err;
          return { kind: 'deny', error: err, action: err.code === 'RAMPART_BODY_TOO_COMPLEX' ? 'body.too_complex' : err.code === 'RAMPART_BODY_ENCODING_UNSUPPORTED' ? 'body.encoding_unsupported' : 'body.json_invalid', operation: op };
        }
        const r: WalkResult = newWalkResult();
        value = walk(value, documented.shape, { strip: v.config.unknownProperties === 'strip', dropForbidden: false, nfc: true, controlCharacters: v.config.controlCharacters === 'deny', checks: v.checks, location: 'body' }, r);
        findings.push(...r.findings);
        if (findings.length && v.config.injection.mode === 'enforce') return unsafe(findings, op);
        if (documented.validate && !documented.validate(value)) {
          const errors = fromAjv(documented.validate.errors, { in: 'body' });
          return refuse('RAMPART_VALIDATION_BODY_INVALID', 'validation.body_invalid', errors, `${errors.length} body violation(s) in ${op.id}: ${errors.map((e) => e.rule).join(',')}`, undefined, op);
        }
        if (r.changed) json = { value };
      }
    }
  }

  if (findings.length && v.config.injection.mode === 'shadow') return { kind: 'pass', operation: op, ...(json ? { json } : {}), shadowFindings: findings };
  return { kind: 'pass', operation: op, ...(json ? { json } : {}) };
}

/** Content-Type decisions per operation, remembered for the few distinct values clients send. */
const decisions = new WeakMap<CompiledOperation, Map<string, CompiledMedia | 'contentType' | 'charset'>>();

function acceptContentType(v: RequestValidator, op: CompiledOperation, header: string): CompiledMedia | 'contentType' | 'charset' {
  let cache = decisions.get(op);
  if (!cache) decisions.set(op, (cache = new Map()));
  const known = cache.get(header);
  if (known !== undefined) return known;
  const media = parseMediaRange(header);
  const documented = media ? bestRange(media.essence, op.body?.media ?? []) : undefined;
  let decision: CompiledMedia | 'contentType' | 'charset';
  if (!media || !documented || !allowedBy(media.essence, v.config.contentTypes)) decision = 'contentType';
  else {
    // RFC 8259 §8.1: JSON is UTF-8; a charset parameter saying otherwise is refused.
    const charset = media.params.get('charset')?.toLowerCase();
    decision = documented.json && charset !== undefined && charset !== 'utf-8' && charset !== 'utf8' ? 'charset' : documented;
  }
  if (cache.size < 32) cache.set(header, decision);
  return decision;
}

function unsafe(findings: Violation[], op: CompiledOperation): RequestOutcome {
  const rules = [...new Set(findings.map((f) => f.rule))];
  return refuse('RAMPART_VALIDATION_UNSAFE_INPUT', 'validation.unsafe_input', findings, `unsafe input in ${op.id}: ${rules.join(',')}`, undefined, op);
}
