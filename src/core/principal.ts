/**
 * The principal: who is calling. Produced only by the authn stage, read by every stage after it.
 * Identity is the triple (issuer, kind, subject) — DESIGN.md S3: a subject never stands alone.
 */
export type PrincipalKind = 'user' | 'client' | 'key' | 'anonymous';

export interface Principal {
  readonly kind: PrincipalKind;
  readonly subject: string;
  readonly issuer: string;
  readonly tenant?: string;
  readonly clientId?: string;
  readonly keyId?: string;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly amr: readonly string[];
  readonly acr?: string;
  /** Seconds since the epoch. */
  readonly authTime?: number;
  readonly tokenId?: string;
  readonly grantId?: string;
  /** Seconds since the epoch. */
  readonly expiresAt?: number;
  readonly claims: Readonly<Record<string, unknown>>;
}

/** The caller before (or without) authentication. */
export const ANONYMOUS: Principal = Object.freeze({
  kind: 'anonymous',
  subject: 'anonymous',
  issuer: 'rampart',
  roles: Object.freeze([]) as readonly string[],
  scopes: Object.freeze([]) as readonly string[],
  amr: Object.freeze([]) as readonly string[],
  claims: Object.freeze({}),
});

/** A stable key for caches keyed by principal (issuer + kind + subject, S3). */
export function principalKey(p: Principal): string {
  return `${p.kind}\u0000${p.issuer}\u0000${p.subject}\u0000${p.tenant ?? ''}`;
}
