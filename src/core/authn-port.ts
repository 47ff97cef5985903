/**
 * The ports through which the authn stage (src/stages/authn) reaches the parts that issue
 * credentials: the built-in authorization server (src/auth-server) and the API-key module
 * (src/accounts). The gateway passes implementations in CompileEnv.authn; the stage codes against
 * these interfaces only, and fails closed when one it needs is missing.
 */
import type { ApiKeyRecord, EpochSeconds, Store } from '../store/types.ts';

/** A JSON Web Key Set (RFC 7517 §5) of public verification keys. */
export interface PublicJwks {
  readonly keys: readonly Readonly<Record<string, unknown>>[];
}

/**
 * The built-in authorization server as the gateway sees it (implemented by src/auth-server).
 *
 * Claims contract of its access tokens (RFC 9068 §2.2): JOSE header `typ: at+jwt`, `iss` = issuer,
 * `aud` (one of `audiences`), `exp`, `iat`, `jti`, `sub`, `client_id`, `scope`; user tokens also
 * carry `auth_time`, `amr` and `acr` (RFC 9068 §2.2.1) — a token without `auth_time` whose `sub`
 * equals its `client_id` is a client's (client credentials grant); and the grant id in
 * `grant_id` (BUILTIN_GRANT_CLAIM), which the deny-list revokes.
 */
export interface BuiltinIssuer {
  /** The `iss` of its tokens, e.g. https://localhost:8443/auth. */
  readonly issuer: string;
  /** The audiences (RFC 8707 resource indicators) its access tokens are issued for. */
  readonly audiences: readonly string[];
  /** The current public keys: the signing key and retired keys kept until their tokens expired. */
  jwks(): PublicJwks;
  /** Calls `listener` after every key rotation; returns the function that unsubscribes. */
  onKeysChanged(listener: () => void): () => void;
}

/** The claim of built-in access tokens that carries the grant id (revoked through the deny-list). */
export const BUILTIN_GRANT_CLAIM = 'grant_id';

export type ApiKeyFailure = 'malformed' | 'unknown' | 'mismatch' | 'revoked' | 'expired';

export type ApiKeyCheck =
  | { readonly ok: true; readonly key: ApiKeyRecord }
  | { readonly ok: false; readonly reason: ApiKeyFailure };

/**
 * Verifies an `X-API-Key` value (implemented by src/accounts): parses `rmp_<id>_<secret><checksum>`
 * (S4), looks the id up, compares HMAC-SHA-256(pepper, secret) with the stored MAC in constant time
 * (crypto.timingSafeEqual), refuses revoked and expired keys as of `now`, and records the last use
 * off the critical path. Rejects (throws) when the store cannot be reached: the stage fails closed.
 */
export interface ApiKeyVerifier {
  verify(presented: string, now: EpochSeconds): Promise<ApiKeyCheck>;
}

export interface AuthnServices {
  /** Present when the built-in authorization server runs (`authServer` in rampart.yaml). */
  readonly builtin?: BuiltinIssuer;
  /** Present once the store and the keyring are open. */
  readonly apiKeys?: ApiKeyVerifier;
  /**
   * Where users' and clients' records and the deny-list are read; defaults to CompileEnv.store.
   * Tests pass a small in-memory double here.
   */
  readonly accounts?: Pick<Store, 'users' | 'clients' | 'denyList'>;
}
