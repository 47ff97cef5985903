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
import type { RequestContext } from '../../core/context.ts';
import type { IdentityTokens } from '../../core/identity-port.ts';
import { parseJson } from '../../core/body/json.ts';
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
  up.breaker.record(permit, res.statusCode < 500);
  try {
    const status = res.statusCode;
    if (status === 404 || status === 410 || status === 401 || status === 403) return { ok: false, kind: 'missing', reason: `lookup ${path}: ${status}` };
    if (status < 200 || status >= 300) return { ok: false, kind: 'unverified', reason: `lookup ${path}: status ${status}` };
    const type = String(res.headers['content-type'] ?? '');
    if (!/^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i.test(type)) return { ok: false, kind: 'unverified', reason: `lookup ${path}: not JSON` };
    const enc = res.headers['content-encoding'];
    if (enc !== undefined && String(enc).toLowerCase() !== 'identity') return { ok: false, kind: 'unverified', reason: `lookup ${path}: encoded body` };
    const bytes = await readCapped(res.body, up.config.maxResponseBytes);
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
    return { ok: false, kind: 'unverified', reason: `lookup ${path}: ${classify(err).error.reason ?? 'body not received'}` };
  } finally {
    // Whatever was not read is discarded, so the connection goes back to the pool.
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
