/**
 * JSON Web Keys (RFC 7517) → node:crypto public keys, each with the JWS algorithms it may verify.
 * Only public asymmetric keys are taken: a symmetric (`oct`) key or one carrying private members is
 * refused, so no token can be verified with a shared secret (RFC 8725 §3.1, key confusion).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { JwsAlgorithm } from './config.ts';

export interface VerificationKey {
  readonly kid: string | undefined;
  readonly key: KeyObject;
  /** The algorithms this key verifies (its `alg` when it has one, else every fitting algorithm). */
  readonly algs: ReadonlySet<JwsAlgorithm>;
}

const RSA_ALGS: readonly JwsAlgorithm[] = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'];
const EC_ALGS: Readonly<Record<string, JwsAlgorithm>> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const OKP_ALGS: Readonly<Record<string, readonly JwsAlgorithm[]>> = { Ed25519: ['EdDSA', 'Ed25519'], Ed448: ['EdDSA'] };
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** RFC 7518 §3.3: "A key of size 2048 bits or larger MUST be used with these algorithms." */
const MIN_RSA_BITS = 2048;
const MAX_KID_LENGTH = 256;

export type ImportResult = { readonly ok: true; readonly key: VerificationKey } | { readonly ok: false; readonly reason: string };

export function importJwk(jwk: unknown): ImportResult {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return fail('not an object');
  const j = jwk as Record<string, unknown>;
  const kid = j.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH)) return fail('bad kid');
  // RFC 7517 §4.2 / §4.3: a key meant for something else than verifying signatures is skipped.
  if (j.use !== undefined && j.use !== 'sig') return fail('use is not sig');
  if (j.key_ops !== undefined && !(Array.isArray(j.key_ops) && j.key_ops.includes('verify'))) return fail('key_ops lacks verify');
  if (PRIVATE_MEMBERS.some((m) => Object.hasOwn(j, m))) return fail('private or symmetric key material');
  let fitting: readonly JwsAlgorithm[];
  let pub: Record<string, unknown>;
  switch (j.kty) {
    case 'RSA':
      if (typeof j.n !== 'string' || typeof j.e !== 'string') return fail('RSA key without n or e');
      if (Buffer.from(j.n, 'base64url').length * 8 < MIN_RSA_BITS) return fail('RSA key shorter than 2048 bits');
      fitting = RSA_ALGS;
      pub = { kty: 'RSA', n: j.n, e: j.e };
      break;
    case 'EC': {
      const alg = typeof j.crv === 'string' ? EC_ALGS[j.crv] : undefined;
      if (!alg || typeof j.x !== 'string' || typeof j.y !== 'string') return fail('unsupported EC key');
      fitting = [alg];
      pub = { kty: 'EC', crv: j.crv, x: j.x, y: j.y };
      break;
    }
    case 'OKP': {
      const algs = typeof j.crv === 'string' ? OKP_ALGS[j.crv] : undefined;
      if (!algs || typeof j.x !== 'string') return fail('unsupported OKP key');
      fitting = algs;
      pub = { kty: 'OKP', crv: j.crv, x: j.x };
      break;
    }
    default:
      return fail(`unsupported kty ${String(j.kty).slice(0, 8)}`);
  }
  let algs: ReadonlySet<JwsAlgorithm>;
  if (j.alg !== undefined) {
    // RFC 7517 §4.4: the key is meant for this algorithm only (EdDSA and Ed25519 name the same one).
    const alg = j.alg as JwsAlgorithm;
    if (!fitting.includes(alg)) return fail('alg does not fit the key type');
    algs = new Set(j.kty === 'OKP' ? fitting : [alg]);
  } else algs = new Set(fitting);
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pub as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch {
    return fail('key does not parse');
  }
  return { ok: true, key: { kid: kid as string | undefined, key, algs } };
}

function fail(reason: string): ImportResult {
  return { ok: false, reason };
}

/** Imports every usable key of a JWKS (RFC 7517 §5); unusable ones are reported, not fatal. */
export function importJwks(jwks: unknown): { keys: VerificationKey[]; skipped: string[] } {
  const keys: VerificationKey[] = [];
  const skipped: string[] = [];
  const list = typeof jwks === 'object' && jwks !== null ? (jwks as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(list)) return { keys, skipped: ['not a JWK set'] };
  for (const k of list.slice(0, 100)) {
    const r = importJwk(k);
    if (r.ok) keys.push(r.key);
    else skipped.push(r.reason);
  }
  return { keys, skipped };
}
