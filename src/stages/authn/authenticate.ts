/**
 * Authentication of one request on one route:
 *
 *   credentials (Authorization Bearer | X-API-Key | none) →
 *   bearer: token cache by SHA-256 (hit: expiry re-checked) or full verification (issuer.ts) →
 *   route's issuers and audiences → deny-list → account record (built-in issuer) → roles → principal
 *
 * Every failure is a GatewayError with its challenge, plus a log-only reason and event action.
 */
import type { DenySubject } from './deny-list.ts';
import type { IncomingHttpHeaders } from 'node:http';
import type { GatewayError } from '../../errors/problem.ts';
import type { Principal } from '../../core/principal.ts';

import { presentedCredentials } from './credentials.ts';
import { credentialsRequired, invalidApiKey, invalidRequest, invalidToken, unavailable, type ChallengeSchemes } from './challenge.ts';
import { parseJws } from './jws.ts';
import { timeWindow } from './claims.ts';
import { verifyWithIssuer, type IssuerVerifier } from './issuer.ts';
import { tokenHash } from './token-cache.ts';
import { tokenPrincipal, type VerifiedToken } from './token.ts';
import { resolveRoles } from './roles.ts';
import type { AuthnRuntime } from './runtime.ts';

/** The issuer of API-key principals: keys are the gateway's own credentials. */
export const API_KEY_ISSUER = 'urn:rampart:api-keys';

export interface RouteAuthn {
  readonly required: boolean;
  /** Methods a public authorization rule opens to anonymous callers (credentials optional there). */
  readonly anonymousMethods?: ReadonlySet<string>;
  /** Issuer ids accepted; undefined: every configured issuer. */
  readonly issuers: ReadonlySet<string> | undefined;
  readonly apiKeys: boolean;
  readonly audiences: ReadonlySet<string> | undefined;
  readonly schemes: ChallengeSchemes;
}

export type Outcome =
  | { readonly ok: true; readonly principal: Principal | undefined; readonly method: 'bearer' | 'api-key' | undefined; readonly cached: boolean; readonly issuerId?: string; readonly stillValid?: () => boolean }
  | { readonly ok: false; readonly error: GatewayError; readonly action: string; readonly userId?: string };

const TOKEN_FAILURE_ACTION = 'authn.token_invalid';

export async function authenticate(rt: AuthnRuntime, route: RouteAuthn, headers: Readonly<IncomingHttpHeaders>, query: string, method = 'GET'): Promise<Outcome> {
  const presented = presentedCredentials(headers, query);
  switch (presented.kind) {
    case 'bad':
      return { ok: false, error: invalidRequest(route.schemes, presented.code, presented.description, presented.reason), action: presented.code === 'RAMPART_AUTHN_TOKEN_IN_QUERY' ? 'authn.token_in_query' : 'authn.bad_request' };
    case 'none':
      if (!route.required || route.anonymousMethods?.has(method)) return { ok: true, principal: undefined, method: undefined, cached: false };
      return { ok: false, error: credentialsRequired(route.schemes), action: 'authn.credentials_missing' };
    case 'api-key':
      return apiKey(rt, route, presented.key);
    case 'bearer':
      return bearer(rt, route, presented.token);
  }
}

async function bearer(rt: AuthnRuntime, route: RouteAuthn, token: string): Promise<Outcome> {
  const s = route.schemes;
  const bad = (reason: string, code: 'RAMPART_AUTHN_TOKEN_INVALID' | 'RAMPART_AUTHN_TOKEN_EXPIRED' = 'RAMPART_AUTHN_TOKEN_INVALID'): Outcome =>
    ({ ok: false, error: invalidToken(s, code, reason), action: code === 'RAMPART_AUTHN_TOKEN_EXPIRED' ? 'authn.token_expired' : TOKEN_FAILURE_ACTION });
  if (!s.bearer) return bad('bearer tokens not accepted on this route');
  const now = Date.now() / 1000;
  const key = tokenHash(token);
  let t = rt.cache.get(key);
  let v: IssuerVerifier | undefined;
  const cached = t !== undefined;
  if (t) {
    v = rt.byId.get(t.issuerId);
    if (!v) return bad('issuer no longer configured');
    const w = timeWindow(t.exp, t.nbf, now, v.rules.clockSkewSeconds);
    if (w === 'expired') {
      rt.cache.delete(key);
      return bad('expired', 'RAMPART_AUTHN_TOKEN_EXPIRED');
    }
    if (w) return bad(w);
  } else {
    const parsed = parseJws(token);
    if (!parsed.ok) return bad(parsed.reason);
    const iss = parsed.jws.payload.iss;
    v = typeof iss === 'string' ? rt.byIssuer.get(iss) : undefined;
    if (!v) return bad('issuer_unknown');
    if (route.issuers && !route.issuers.has(v.id)) return bad('issuer_not_accepted');
    const r = await verifyWithIssuer(parsed.jws, v, () => Date.now() / 1000);
    if (!r.ok) {
      if ('unavailable' in r) return { ok: false, error: unavailable(`keys: ${r.unavailable}`), action: 'authn.unavailable' };
      return bad(r.reason, r.reason === 'expired' ? 'RAMPART_AUTHN_TOKEN_EXPIRED' : 'RAMPART_AUTHN_TOKEN_INVALID');
    }
    t = r.token;
    rt.cache.set(key, t);
  }
  if (route.issuers && !route.issuers.has(v.id)) return bad('issuer_not_accepted');
  // The route's own audience (the API it fronts), narrower than the issuer's list.
  if (route.audiences && !t.audiences.some((a) => route.audiences!.has(a))) return bad('aud_not_accepted_on_route');
  return finishToken(rt, route, v, t, cached);
}

async function finishToken(rt: AuthnRuntime, route: RouteAuthn, v: IssuerVerifier, t: VerifiedToken, cached: boolean): Promise<Outcome> {
  const userId = `${t.kind}:${t.subject}`;
  if (rt.deny) {
    if (!rt.deny.fresh) return { ok: false, error: unavailable('deny-list stale'), action: 'authn.unavailable', userId };
    // Grant and client entries name the built-in server's grants and clients only (S3).
    const hit = rt.deny.denied({
      issuer: t.issuer, kind: t.kind, subject: t.subject, issuedAt: t.iat,
      grantId: v.builtin ? t.grantId : undefined, clientId: v.builtin ? t.clientId : undefined,
    });
    if (hit) return revoked(route, `deny-list ${hit.kind}`, userId);
  }
  let recordRoles: readonly string[] | undefined;
  if (v.builtin) {
    if (!rt.accounts) return { ok: false, error: unavailable('no account store'), action: 'authn.unavailable', userId };
    let facts;
    try {
      facts = await rt.accounts.lookup(t.kind, t.subject);
    } catch {
      return { ok: false, error: unavailable('account store unreachable'), action: 'authn.unavailable', userId };
    }
    if (!facts) return revoked(route, `${t.kind} no longer exists`, userId);
    if (facts.disabled) return revoked(route, `${t.kind} disabled`, userId);
    recordRoles = facts.roles;
  }
  const roles = resolveRoles(t.kind, t.subject, v.bindings, t.claimRoles, v.roleMap, recordRoles);
  // S9: a long-lived connection (WebSocket) asks again while it is open: still not withdrawn?
  const subject: DenySubject = { issuer: t.issuer, kind: t.kind, subject: t.subject, issuedAt: t.iat, grantId: v.builtin ? t.grantId : undefined, clientId: v.builtin ? t.clientId : undefined };
  return { ok: true, principal: tokenPrincipal(t, roles), method: 'bearer', cached, issuerId: v.id, stillValid: () => stillValid(rt, subject) };
}

/** Fail closed: a stale deny-list copy counts as withdrawn. */
function stillValid(rt: AuthnRuntime, s: DenySubject): boolean {
  if (!rt.deny) return true;
  return rt.deny.fresh && rt.deny.denied(s) === undefined;
}

function revoked(route: RouteAuthn, reason: string, userId: string): Outcome {
  return { ok: false, error: invalidToken(route.schemes, 'RAMPART_AUTHN_TOKEN_REVOKED', reason), action: 'authn.token_revoked', userId };
}

async function apiKey(rt: AuthnRuntime, route: RouteAuthn, presented: string): Promise<Outcome> {
  const s = route.schemes;
  if (!route.apiKeys || !rt.apiKeysEnabled) return { ok: false, error: invalidApiKey(s, 'API keys not accepted on this route'), action: 'authn.api_key_invalid' };
  if (!rt.apiKeys) return { ok: false, error: unavailable('no API-key verifier'), action: 'authn.unavailable' };
  let r;
  try {
    r = await rt.apiKeys.check(presented);
  } catch {
    return { ok: false, error: unavailable('API-key store unreachable'), action: 'authn.unavailable' };
  }
  if (!r.ok) return { ok: false, error: invalidApiKey(s, `key ${r.reason}`), action: 'authn.api_key_invalid' };
  const k = r.key;
  const userId = `key:${k.id}`;
  if (rt.deny) {
    if (!rt.deny.fresh) return { ok: false, error: unavailable('deny-list stale'), action: 'authn.unavailable', userId };
    const hit = rt.deny.denied({ issuer: API_KEY_ISSUER, kind: 'key', subject: k.id, keyId: k.id, issuedAt: k.createdAt });
    if (hit) return { ok: false, error: invalidApiKey(s, `deny-list ${hit.kind}`), action: 'authn.api_key_invalid', userId };
  }
  const roles = resolveRoles('key', k.id, rt.keyBindings, [], undefined, k.roles);
  const principal: Principal = {
    kind: 'key', subject: k.id, issuer: API_KEY_ISSUER, keyId: k.id, roles, scopes: k.scopes, amr: [],
    ...(k.expiresAt !== undefined ? { expiresAt: k.expiresAt } : {}),
    claims: Object.freeze({ name: k.name }),
  };
  const subject: DenySubject = { issuer: API_KEY_ISSUER, kind: 'key', subject: k.id, keyId: k.id, issuedAt: k.createdAt };
  return { ok: true, principal, method: 'api-key', cached: r.cached, stillValid: () => stillValid(rt, subject) };
}

