/**
 * JWT claim checks (RFC 7519 §4.1) for access tokens (RFC 9068 §4): `iss` exactly the issuer,
 * `aud` one of the accepted audiences, `exp` and `iat` required, `nbf` honoured, a small clock
 * skew, a maximum lifetime, and the JOSE `typ` (RFC 8725 §3.11: explicit typing keeps an ID token
 * from being used as an access token).
 */
import type { TypRule } from './config.ts';

export interface ClaimRules {
  readonly issuer: string;
  readonly audiences: ReadonlySet<string>;
  readonly maxLifetimeSeconds: number;
  readonly clockSkewSeconds: number;
  /** RFC 9068 §2.2 makes `jti` required; external issuers may omit it. */
  readonly requireJti: boolean;
}

export type ClaimFailure =
  | 'iss_mismatch'
  | 'aud_mismatch'
  | 'exp_missing'
  | 'expired'
  | 'nbf_future'
  | 'iat_missing'
  | 'iat_future'
  | 'lifetime_exceeded'
  | 'sub_missing'
  | 'jti_missing'
  | 'id_token'
  | 'sender_constrained'
  | 'claims_invalid';

const MAX_SUB_LENGTH = 1024;

/** A NumericDate (RFC 7519 §2): seconds since the epoch, possibly fractional. */
function numericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v) && v >= 0;
}

/** The audiences of a token (RFC 7519 §4.1.3: a string or an array of strings), or undefined. */
export function audienceList(aud: unknown): readonly string[] | undefined {
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud) && aud.length > 0 && aud.length <= 100 && aud.every((a) => typeof a === 'string')) return aud as string[];
  return undefined;
}

/** Whether the token is inside its validity window at `now` (used again on every cache hit). */
export function timeWindow(exp: number, nbf: number | undefined, now: number, skew: number): 'expired' | 'nbf_future' | undefined {
  // RFC 7519 §4.1.4: the current time MUST be before exp (allowing a small leeway).
  if (now >= exp + skew) return 'expired';
  // RFC 7519 §4.1.5: the current time MUST be after or equal to nbf (same leeway).
  if (nbf !== undefined && now + skew < nbf) return 'nbf_future';
  return undefined;
}

export function checkClaims(p: Readonly<Record<string, unknown>>, rules: ClaimRules, now: number): ClaimFailure | undefined {
  // RFC 7519 §4.1.1 / RFC 9068 §4: iss MUST exactly match the issuer.
  if (p.iss !== rules.issuer) return 'iss_mismatch';
  // RFC 7519 §4.1.3 / RFC 9068 §4: aud MUST contain an audience the resource server accepts.
  const aud = audienceList(p.aud);
  if (!aud || !aud.some((a) => rules.audiences.has(a))) return 'aud_mismatch';
  // RFC 9068 §2.2: exp and iat are REQUIRED in access tokens.
  if (p.exp === undefined) return 'exp_missing';
  if (!numericDate(p.exp)) return 'claims_invalid';
  if (p.iat === undefined) return 'iat_missing';
  if (!numericDate(p.iat)) return 'claims_invalid';
  if (p.nbf !== undefined && !numericDate(p.nbf)) return 'claims_invalid';
  const window = timeWindow(p.exp, p.nbf as number | undefined, now, rules.clockSkewSeconds);
  if (window) return window;
  // RFC 7519 §4.1.6: a token issued in the future is not trusted beyond the skew.
  if (p.iat > now + rules.clockSkewSeconds) return 'iat_future';
  // A token valid longer than the maximum is refused even while it is still valid (issue 3 §4).
  if (p.exp - p.iat > rules.maxLifetimeSeconds) return 'lifetime_exceeded';
  if (typeof p.sub !== 'string' || p.sub.length === 0 || p.sub.length > MAX_SUB_LENGTH) return 'sub_missing';
  if (rules.requireJti && (typeof p.jti !== 'string' || p.jti.length === 0)) return 'jti_missing';
  if (p.jti !== undefined && (typeof p.jti !== 'string' || p.jti.length > 256)) return 'claims_invalid';
  // RFC 9449 §7 / RFC 8705 §3: a DPoP- or certificate-bound token is only good with its proof,
  // which this gateway does not check yet; accepting it as a plain bearer token would undo the binding.
  if (p.cnf !== undefined) return 'sender_constrained';
  // ID tokens that some IdPs type as plain JWT: Keycloak's `typ: ID`, Cognito's `token_use: id`.
  if (p.typ === 'ID' || p.token_use === 'id') return 'id_token';
  return undefined;
}

/**
 * RFC 7515 §4.1.9: `typ` is a media type whose `application/` prefix may be omitted, compared
 * case-insensitively. RFC 9068 §4: `at+jwt` (or `application/at+jwt`) for JWT access tokens.
 */
export function typMatches(typ: unknown, rule: TypRule): boolean {
  if (rule === 'any') return true;
  if (typeof typ !== 'string') return false;
  const t = typ.toLowerCase();
  const want = rule.toLowerCase();
  return t === want || t === `application/${want}`;
}
