/**
 * The `Rampart-Identity` token (DESIGN.md S2): a JWT (RFC 7519) the gateway signs for each
 * upstream, carrying who the caller is. Shared by the signer (gateway) and the verifier (services).
 */
import type { Principal, PrincipalKind } from '../core/principal.ts';

/** The request header that carries the token to upstreams. */
export const IDENTITY_HEADER = 'rampart-identity';
/** JOSE `typ` header (RFC 8725 §3.11: explicit typing, so no other JWT can be substituted). */
export const IDENTITY_TYP = 'rampart-id+jwt';
export const IDENTITY_ALG = 'ES256';
/** Upper bound on the token lifetime, by design (S2). */
export const IDENTITY_MAX_LIFETIME_SECONDS = 60;
/** Where the gateway publishes the public keys on its listeners. */
export const IDENTITY_JWKS_PATH = '/.well-known/rampart/identity-jwks.json';

/** The `rampart` claim: the principal as the upstream may see it (never its raw token claims). */
/** The principal as upstreams see it: its identity (issuer, kind — S3) and what it may do. */
export type RampartIdentityClaim = Pick<Principal, 'kind' | 'issuer' | 'tenant' | 'clientId' | 'keyId' | 'roles' | 'scopes' | 'amr' | 'acr' | 'authTime'>;

/** A verified token's claims. */
export interface IdentityClaims {
  /** The gateway's identity issuer (not the principal's issuer, which is `rampart.issuer`). */
  readonly iss: string;
  /** The upstream id. */
  readonly aud: string;
  /** The principal's subject. */
  readonly sub: string;
  readonly iat: number;
  readonly exp: number;
  /** Unique per signature; the token is reused for many requests, so not a replay nonce. */
  readonly jti: string;
  readonly rampart: RampartIdentityClaim;
}

export function rampartClaim(p: Principal): RampartIdentityClaim {
  return {
    kind: p.kind,
    issuer: p.issuer,
    ...(p.tenant !== undefined && { tenant: p.tenant }),
    ...(p.clientId !== undefined && { clientId: p.clientId }),
    ...(p.keyId !== undefined && { keyId: p.keyId }),
    roles: [...p.roles],
    scopes: [...p.scopes],
    amr: [...p.amr],
    ...(p.acr !== undefined && { acr: p.acr }),
    ...(p.authTime !== undefined && { authTime: p.authTime }),
  };
}

const KINDS: ReadonlySet<string> = new Set<PrincipalKind>(['user', 'client', 'key', 'anonymous']);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const optional = (o: Record<string, unknown>, key: string, type: 'string' | 'number'): boolean =>
  o[key] === undefined || typeof o[key] === type;

/** Checks the shape of a `rampart` claim received in a token; undefined when it does not fit. */
export function parseRampartClaim(value: unknown): RampartIdentityClaim | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const o = value as Record<string, unknown>;
  if (typeof o.kind !== 'string' || !KINDS.has(o.kind)) return undefined;
  if (typeof o.issuer !== 'string' || o.issuer.length === 0) return undefined;
  if (!isStringArray(o.roles) || !isStringArray(o.scopes) || !isStringArray(o.amr)) return undefined;
  if (!optional(o, 'tenant', 'string') || !optional(o, 'clientId', 'string') || !optional(o, 'keyId', 'string')) {
    return undefined;
  }
  if (!optional(o, 'acr', 'string') || !optional(o, 'authTime', 'number')) return undefined;
  return Object.freeze({
    kind: o.kind as PrincipalKind,
    issuer: o.issuer,
    ...(typeof o.tenant === 'string' && { tenant: o.tenant }),
    ...(typeof o.clientId === 'string' && { clientId: o.clientId }),
    ...(typeof o.keyId === 'string' && { keyId: o.keyId }),
    roles: Object.freeze([...o.roles]),
    scopes: Object.freeze([...o.scopes]),
    amr: Object.freeze([...o.amr]),
    ...(typeof o.acr === 'string' && { acr: o.acr }),
    ...(typeof o.authTime === 'number' && { authTime: o.authTime }),
  });
}
