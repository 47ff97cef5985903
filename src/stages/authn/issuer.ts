/**
 * One trusted issuer and the verification of a token it signed, in a fixed order that never reads
 * a claim of an unverified token except `iss` (to pick the issuer):
 *
 *   issuer by `iss` → alg in the issuer's allowlist (RFC 8725 §3.1) → `typ` (RFC 8725 §3.11) →
 *   key by `kid` from the issuer's own key set only (S8) → signature → claims (RFC 9068 §4)
 */
import type { ClaimRoles, JwsAlgorithm, TypRule } from './config.ts';
import { checkClaims, typMatches, type ClaimFailure, type ClaimRules } from './claims.ts';
import { verifySignature, type ParsedJws } from './jws.ts';
import type { KeySource } from './key-set.ts';
import { readToken, type ClaimReading, type VerifiedToken } from './token.ts';

export interface IssuerVerifier {
  readonly id: string;
  readonly builtin: boolean;
  readonly rules: ClaimRules;
  readonly algorithms: ReadonlySet<string>;
  readonly typ: TypRule;
  /** Undefined: the built-in issuer is configured but not running here (fail closed). */
  readonly keys: KeySource | undefined;
  readonly reading: ClaimReading;
  readonly roleMap: ClaimRoles['map'] | undefined;
  /** `kind\0id` → roles bound in config (S3: within this issuer only). */
  readonly bindings: ReadonlyMap<string, readonly string[]>;
}

export type VerifyFailure =
  | 'alg_not_allowed'
  | 'typ_mismatch'
  | 'kid_unknown'
  | 'signature_invalid'
  | ClaimFailure;

export type VerifyResult =
  | { readonly ok: true; readonly token: VerifiedToken }
  | { readonly ok: false; readonly reason: VerifyFailure }
  | { readonly ok: false; readonly unavailable: string };

export async function verifyWithIssuer(jws: ParsedJws, v: IssuerVerifier, nowSeconds: () => number): Promise<VerifyResult> {
  const alg = jws.header.alg as string;
  // RFC 8725 §3.1: only the issuer's configured algorithms; `none` and HS* can never be among them.
  if (!v.algorithms.has(alg)) return { ok: false, reason: 'alg_not_allowed' };
  // RFC 9068 §4: `typ` must be at+jwt for the built-in issuer; `requireTyp` for external ones.
  if (!typMatches(jws.header.typ, v.typ)) return { ok: false, reason: 'typ_mismatch' };
  if (!v.keys) return { ok: false, unavailable: 'built-in issuer not running' };
  const kid = jws.header.kid as string | undefined;
  const found = await v.keys.lookup(kid, alg as JwsAlgorithm);
  if (found.kind === 'unavailable') return { ok: false, unavailable: found.reason };
  if (found.kind === 'unknown') return { ok: false, reason: 'kid_unknown' };
  if (!verifySignature(jws, alg as JwsAlgorithm, found.key.key)) return { ok: false, reason: 'signature_invalid' };
  // Claims are checked against the clock after the (possibly awaited) key lookup.
  const failure = checkClaims(jws.payload, v.rules, nowSeconds());
  if (failure) return { ok: false, reason: failure };
  const token = readToken(jws.payload, v.reading);
  if (!token) return { ok: false, reason: 'claims_invalid' };
  return { ok: true, token };
}
