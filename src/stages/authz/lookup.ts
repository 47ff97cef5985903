/**
 * Ownership by lookup (OWASP API1 for writes): before `PUT /orders/42` or `DELETE /orders/42`
 * goes upstream, the gateway asks the same upstream for the object — `GET /orders/42` with the
 * caller's Rampart-Identity and the headers the write itself would carry (Host per
 * `proxy.preserveHost`, X-Forwarded-*, the route's timeouts), through the proxy's own pools, breaker
 * and health (shared through the keeper) — and lets the change through only when the object's
 * owner field is the caller's. Checking the answer after a DELETE would be too late.
 *
 * The outcome: the owner matches; the object does not exist or the service will not show it to
 * this caller (404/410, 401/403: answered as the rule's mismatch, so nobody learns which ids
 * exist); or it cannot be told (another status, not JSON, no owner field, no target, a timeout) —
 * refused, never forwarded unchecked.
 *
 * Not atomic: the object can change owner between the lookup and the write (docs/authz.md).
 */
import type { Dispatcher } from 'undici';
import type { Logger } from 'pino';
import type { RequestContext } from '../../core/context.ts';
import type { IdentityTokens } from '../../core/identity-port.ts';
import { parseJson } from '../../core/body/json.ts';
import { isJsonContentType } from '../../core/http/media-type.ts';
import { RESPONSE_JSON_LIMITS } from '../../core/body/response.ts';
import type { UpstreamRuntime } from '../proxy/upstream.ts';
import { classify } from '../proxy/errors.ts';
import { upstreamRequestHeaders } from '../proxy/request-headers.ts';
import { at, sameOwner } from './evaluate.ts';
import type { CompiledOwnership } from './policy.ts';

export type LookupOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly kind: 'mismatch' | 'missing' | 'unverified'; readonly reason: string };

export interface LookupDeps {
  readonly upstream: UpstreamRuntime;
  readonly identity: IdentityTokens;
  readonly generation: number;
  /** The route's proxy settings that shape the request: Host, timeouts. */
  readonly preserveHost: boolean;
  readonly headersMs: number;
  readonly bodyMs: number;
  readonly log: Pick<Logger, 'warn'>;
}

export function lookupPath(template: string, params: Readonly<Record<string, string>>): string | undefined {
  let missing = false;
  const path = template.replace(/\{([^}]*)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined || v === '') missing = true;
    return encodeURIComponent(v ?? '');
  });
  return missing ? undefined : path;
}

/** Headers of a bodiless GET: what the write carries (minus its body's), never the client's conditionals. */
function lookupHeaders(ctx: RequestContext, token: string): Record<string, string | string[]> {
  const h = upstreamRequestHeaders(ctx, { forwardCredentials: false, identityToken: token, wholeAnswer: true });
  for (const name of ['content-length', 'content-type', 'content-encoding', 'transfer-encoding', 'expect']) delete h[name];
  h.accept = 'application/json';
  // The answer is read here, not by the client: uncompressed, whatever the client accepts.
  h['accept-encoding'] = 'identity';
  return h;
}

export async function lookupOwner(o: CompiledOwnership, owner: string, ctx: RequestContext, deps: LookupDeps): Promise<LookupOutcome> {
  const spec = o.lookup;
  if (!spec) return { ok: true };
  const path = lookupPath(spec.path, ctx.params);
  if (path === undefined) return { ok: false, kind: 'unverified', reason: 'a lookup parameter is missing' };
  const up = deps.upstream;
  const target = up.pick();
  if (!target) return { ok: false, kind: 'unverified', reason: 'lookup: no healthy target' };
  const permit = up.breaker.acquire();
  if (permit === undefined) return { ok: false, kind: 'unverified', reason: 'lookup: circuit open' };
  let res: Dispatcher.ResponseData;
  try {
    const token = await deps.identity.tokenFor(ctx.principal, up.config.id, deps.generation);
    res = await target.pool.request({
      method: 'GET',
      path,
      headers: { ...lookupHeaders(ctx, token), host: deps.preserveHost ? ctx.host : target.authority },
      signal: ctx.signal,
      headersTimeout: deps.headersMs,
      bodyTimeout: deps.bodyMs,
    });
  } catch (err) {
    // The client going away is not the upstream's fault: the permit goes back, health untouched.
    const failure = ctx.signal.aborted ? undefined : classify(err);
    if (failure?.upstreamFault) {
      up.breaker.record(permit, false);
      up.observe(target, false, `lookup: ${failure.error.reason ?? failure.error.code}`);
    } else up.breaker.release(permit);
    return { ok: false, kind: 'unverified', reason: `lookup ${path}: ${ctx.signal.aborted ? 'client gone' : (failure?.error.reason ?? 'request failed')}` };
  }
  // Settled once the answer is read, like the proxy's own requests (respond.ts): a body that
  // breaks off counts against the upstream, a 5xx too; passive health sees every lookup.
  let settled = false;
  const settle = (ok: boolean, reason: string) => {
    if (settled) return;
    settled = true;
    up.breaker.record(permit, ok);
    up.observe(target, ok, reason);
  };
  try {
    const status = res.statusCode;
    if (status >= 500) {
      settle(false, `lookup: ${status}`);
      return { ok: false, kind: 'unverified', reason: `lookup ${path}: status ${status}` };
    }
    if (status < 200 || status >= 300) settle(true, 'lookup answered');
    if (status === 401 || status === 403) {
      // Answered like a missing object (no id enumeration); logged, since it may also mean the
      // service does not accept the gateway's identity.
      deps.log.warn({ requestId: ctx.requestId, path, status }, 'ownership lookup refused by the upstream: answered as not found');
      return { ok: false, kind: 'missing', reason: `lookup ${path}: ${status}` };
    }
    if (status === 404 || status === 410) return { ok: false, kind: 'missing', reason: `lookup ${path}: ${status}` };
    if (status < 200 || status >= 300) return { ok: false, kind: 'unverified', reason: `lookup ${path}: status ${status}` };
    if (!isJsonContentType(res.headers['content-type'])) return { ok: false, kind: 'unverified', reason: `lookup ${path}: not JSON` };
    const enc = res.headers['content-encoding'];
    if (enc !== undefined && String(enc).toLowerCase() !== 'identity') return { ok: false, kind: 'unverified', reason: `lookup ${path}: encoded body` };
    const bytes = await readCapped(res.body, up.config.maxResponseBytes);
    settle(true, 'lookup answered');
    if (!bytes) return { ok: false, kind: 'unverified', reason: `lookup ${path}: body too large` };
    let value: unknown;
    try {
      value = parseJson(bytes, RESPONSE_JSON_LIMITS);
    } catch {
      return { ok: false, kind: 'unverified', reason: `lookup ${path}: invalid JSON` };
    }
    const v = at(value, spec.field);
    if (v === undefined) return { ok: false, kind: 'unverified', reason: `lookup ${path}: no ${spec.field.join('.')}` };
    return sameOwner(v, owner) ? { ok: true } : { ok: false, kind: 'mismatch', reason: `lookup ${path}: the object belongs to someone else` };
  } catch (err) {
    if (ctx.signal.aborted) {
      if (!settled) up.breaker.release(permit); // the client left: not the upstream's doing
      settled = true;
    } else settle(false, 'lookup body failed');
    return { ok: false, kind: 'unverified', reason: `lookup ${path}: ${classify(err).error.reason ?? 'body not received'}` };
  } finally {
    // Early answers (not JSON, encoded) settle as answered; the rest is discarded so the
    // connection goes back to the pool.
    settle(true, 'lookup answered');
    res.body.dump().catch(() => {});
  }
}

async function readCapped(body: Dispatcher.ResponseData['body'], max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += (chunk as Buffer).length;
    if (size > max) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, size);
}
