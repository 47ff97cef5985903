/**
 * A verified access token as the cache keeps it: the claims and what the principal needs from
 * them, never the token. The kind of subject follows RFC 9068 §2.2: a token with `auth_time` was
 * issued after a user authenticated; one without it whose `sub` is its own `client_id` (or `azp`)
 * was obtained by a client for itself (client credentials).
 */
import type { Principal } from '../../core/principal.ts';
import { audienceList } from './claims.ts';

export interface VerifiedToken {
  /** The configured issuer id (`builtin` or an `authentication.issuers[].id`). */
  readonly issuerId: string;
  readonly issuer: string;
  readonly kind: 'user' | 'client';
  readonly subject: string;
  readonly clientId: string | undefined;
  readonly grantId: string | undefined;
  readonly tokenId: string | undefined;
  readonly audiences: readonly string[];
  readonly scopes: readonly string[];
  readonly amr: readonly string[];
  readonly acr: string | undefined;
  readonly authTime: number | undefined;
  readonly iat: number;
  readonly exp: number;
  readonly nbf: number | undefined;
  /** Raw values of the issuer's role claim (mapped to roles per request). */
  readonly claimRoles: readonly string[];
  readonly claims: Readonly<Record<string, unknown>>;
}

export interface ClaimReading {
  readonly issuerId: string;
  readonly scopeClaim: string;
  readonly roleClaim: string | undefined;
  /** The claim naming the grant (built-in issuer only). */
  readonly grantClaim: string | undefined;
}

const MAX_LIST = 256;

function stringList(v: unknown): string[] | undefined {
  if (typeof v === 'string') return v.split(' ').filter(Boolean).slice(0, MAX_LIST);
  if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return (v as string[]).slice(0, MAX_LIST);
  return undefined;
}

/** Follows a dotted path (`realm_access.roles`) through own properties only. */
export function claimAt(claims: Readonly<Record<string, unknown>>, path: string): unknown {
  let v: unknown = claims;
  for (const part of path.split('.')) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, part)) return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

/** Reads the claims `checkClaims` accepted; undefined when an optional claim has the wrong type. */
export function readToken(p: Readonly<Record<string, unknown>>, r: ClaimReading): VerifiedToken | undefined {
  const sub = p.sub as string;
  const clientIdRaw = p.client_id ?? p.azp;
  if (clientIdRaw !== undefined && typeof clientIdRaw !== 'string') return undefined;
  const authTime = p.auth_time;
  if (authTime !== undefined && (typeof authTime !== 'number' || !Number.isFinite(authTime))) return undefined;
  const amr = p.amr === undefined ? [] : stringList(p.amr);
  if (!amr || (p.amr !== undefined && !Array.isArray(p.amr))) return undefined;
  if (p.acr !== undefined && typeof p.acr !== 'string') return undefined;
  const scopeRaw = p[r.scopeClaim] ?? (r.scopeClaim === 'scope' ? p.scp : undefined);
  const scopes = scopeRaw === undefined ? [] : stringList(scopeRaw);
  if (!scopes) return undefined;
  const grantRaw = r.grantClaim ? p[r.grantClaim] : undefined;
  if (grantRaw !== undefined && typeof grantRaw !== 'string') return undefined;
  const rolesRaw = r.roleClaim ? claimAt(p, r.roleClaim) : undefined;
  const claimRoles = rolesRaw === undefined ? [] : (stringList(rolesRaw) ?? []);
  const kind = authTime === undefined && clientIdRaw !== undefined && clientIdRaw === sub ? 'client' : 'user';
  return {
    issuerId: r.issuerId,
    issuer: p.iss as string,
    kind,
    subject: sub,
    clientId: clientIdRaw,
    grantId: grantRaw,
    tokenId: typeof p.jti === 'string' ? p.jti : undefined,
    audiences: audienceList(p.aud) ?? [],
    scopes,
    amr,
    acr: p.acr as string | undefined,
    authTime,
    iat: p.iat as number,
    exp: p.exp as number,
    nbf: p.nbf as number | undefined,
    claimRoles,
    claims: Object.freeze({ ...p }),
  };
}

export function tokenPrincipal(t: VerifiedToken, roles: readonly string[]): Principal {
  return {
    kind: t.kind,
    subject: t.subject,
    issuer: t.issuer,
    ...(t.clientId !== undefined ? { clientId: t.clientId } : {}),
    roles,
    scopes: t.scopes,
    amr: t.amr,
    ...(t.acr !== undefined ? { acr: t.acr } : {}),
    ...(t.authTime !== undefined ? { authTime: t.authTime } : {}),
    ...(t.tokenId !== undefined ? { tokenId: t.tokenId } : {}),
    ...(t.grantId !== undefined ? { grantId: t.grantId } : {}),
    expiresAt: t.exp,
    claims: t.claims,
  };
}
