/**
 * Ownership by lookup (OWASP API1 for writes): before `PUT /orders/42` or `DELETE /orders/42`
 * goes upstream, the gateway asks the same upstream for the object — `GET /orders/42` with the
 * caller's Rampart-Identity, through the proxy's own pools, breaker and timeouts (shared through
 * the keeper) — and lets the change through only when the object's owner field is the caller's.
 * Checking the answer after a DELETE would be too late.
 *
 * The outcome: the owner matches; the object does not exist (404/410: answered as the rule's
 * mismatch status, so nobody learns which ids exist); or it cannot be told (another status, not
 * JSON, no owner field, no target, a timeout) — refused, never forwarded unchecked.
 */
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../../core/context.ts';
import type { IdentityTokens } from '../../core/identity-port.ts';
import { parseJson } from '../../core/body/json.ts';
import { RESPONSE_JSON_LIMITS } from '../../core/body/response.ts';
import type { UpstreamRuntime } from '../proxy/upstream.ts';
import { at, sameOwner } from './evaluate.ts';
import type { CompiledOwnership } from './policy.ts';

export type LookupOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly kind: 'mismatch' | 'missing' | 'unverified'; readonly reason: string };

export interface LookupDeps {
  readonly upstream: UpstreamRuntime;
  readonly identity: IdentityTokens;
  readonly generation: number;
}

export function lookupPath(template: string, params: Readonly<Record<string, string>>): string | undefined {
  let missing = false;
  const path = template.replace(/\{([^}]*)\}/g, (_, name: string) => {
    const v = params[name];
    if (v === undefined) missing = true;
    return encodeURIComponent(v ?? '');
  });
  return missing ? undefined : path;
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
      headers: { host: target.authority, accept: 'application/json', 'rampart-identity': token, traceparent: ctx.traceparent },
      signal: ctx.signal,
      headersTimeout: up.config.timeouts.headersMs,
      bodyTimeout: up.config.timeouts.bodyMs,
    });
  } catch (err) {
    up.breaker.record(permit, false);
    up.observe(target, false, 'lookup failed');
    return { ok: false, kind: 'unverified', reason: `lookup ${path}: ${(err as { code?: string }).code ?? 'request failed'}` };
  }
  up.breaker.record(permit, res.statusCode < 500);
  try {
    if (res.statusCode === 404 || res.statusCode === 410) return { ok: false, kind: 'missing', reason: `lookup ${path}: ${res.statusCode}` };
    if (res.statusCode < 200 || res.statusCode >= 300) return { ok: false, kind: 'unverified', reason: `lookup ${path}: status ${res.statusCode}` };
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
