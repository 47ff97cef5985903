/**
 * JWS Compact Serialization (RFC 7515 §7.1) parsing and signature verification with synchronous
 * node:crypto — cheaper per call than WebCrypto's promise round trip, and a cache miss costs one
 * verification (issue 3 §6). Headers that would let the token choose its own key (`jku`, `x5u`,
 * `jwk`, `x5c`) are refused outright, so no outbound request or embedded key is ever used
 * (RFC 8725 §3.10); `crit` is refused since no extension is understood (RFC 7515 §4.1.11).
 */
import { constants, verify, type KeyObject } from 'node:crypto';
import type { JwsAlgorithm } from './config.ts';

export interface ParsedJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  /** ASCII(BASE64URL(header) || '.' || BASE64URL(payload)) — RFC 7515 §5.2 step 8. */
  readonly signingInput: string;
  readonly signature: Buffer;
}

export type JwsFailure = 'malformed' | 'key_header' | 'crit_unsupported' | 'kid_invalid' | 'header_not_allowed';

export type ParseResult = { readonly ok: true; readonly jws: ParsedJws } | { readonly ok: false; readonly reason: JwsFailure };

const B64URL = /^[A-Za-z0-9_-]*$/;
/** RFC 8725 §3.10 / RFC 7515 §4.1.2–4.1.6: the token never names where its key comes from. */
const KEY_HEADERS = ['jku', 'x5u', 'jwk', 'x5c'];
export const MAX_KID_LENGTH = 256;

export function parseJws(token: string): ParseResult {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (first <= 0 || second === -1 || token.indexOf('.', second + 1) !== -1) return { ok: false, reason: 'malformed' };
  const h = token.slice(0, first);
  const p = token.slice(first + 1, second);
  const s = token.slice(second + 1);
  if (p.length === 0 || !B64URL.test(h) || !B64URL.test(p) || !B64URL.test(s)) return { ok: false, reason: 'malformed' };
  const header = jsonObject(h);
  if (!header) return { ok: false, reason: 'malformed' };
  if (KEY_HEADERS.some((k) => Object.hasOwn(header, k))) return { ok: false, reason: 'key_header' };
  if (Object.hasOwn(header, 'crit')) return { ok: false, reason: 'crit_unsupported' };
  // RFC 7797 `b64` only exists together with `crit`; `zip` and `enc` belong to JWE (RFC 7516).
  if (Object.hasOwn(header, 'b64') || Object.hasOwn(header, 'zip') || Object.hasOwn(header, 'enc')) return { ok: false, reason: 'header_not_allowed' };
  if (typeof header.alg !== 'string') return { ok: false, reason: 'malformed' };
  const kid = header.kid;
  if (kid !== undefined && (typeof kid !== 'string' || kid.length === 0 || kid.length > MAX_KID_LENGTH)) return { ok: false, reason: 'kid_invalid' };
  const payload = jsonObject(p);
  if (!payload) return { ok: false, reason: 'malformed' };
  return { ok: true, jws: { header, payload, signingInput: token.slice(0, second), signature: Buffer.from(s, 'base64url') } };
}

function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const HASH: Readonly<Record<string, string>> = { 256: 'sha256', 384: 'sha384', 512: 'sha512' };
/** RFC 7518 §3.4: R and S as fixed-length big-endian octets, concatenated. */
const EC_SIGNATURE_BYTES: Readonly<Record<string, number>> = { ES256: 64, ES384: 96, ES512: 132 };
const EC_CURVE: Readonly<Record<string, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };

/** Verifies the signature of `jws` with `key` for `alg` (already checked against the allowlist). */
export function verifySignature(jws: ParsedJws, alg: JwsAlgorithm, key: KeyObject): boolean {
  const data = Buffer.from(jws.signingInput, 'ascii');
  const type = key.asymmetricKeyType;
  try {
    switch (alg) {
      case 'RS256':
      case 'RS384':
      case 'RS512':
        // RFC 7518 §3.3: RSASSA-PKCS1-v1_5 (the default padding of an 'rsa' key; passing the key
        // itself rather than an options object spares Node a key preparation per call).
        if (type !== 'rsa') return false;
        return verify(HASH[alg.slice(2)] as string, data, key, jws.signature);
      case 'PS256':
      case 'PS384':
      case 'PS512':
        // RFC 7518 §3.5: RSASSA-PSS with MGF1 of the same hash and a salt as long as the hash.
        if (type !== 'rsa' && type !== 'rsa-pss') return false;
        return verify(HASH[alg.slice(2)] as string, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 }, jws.signature);
      case 'ES256':
      case 'ES384':
      case 'ES512':
        if (type !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== EC_CURVE[alg]) return false;
        if (jws.signature.length !== EC_SIGNATURE_BYTES[alg]) return false;
        return verify(HASH[alg.slice(2)] as string, data, key, p1363ToDer(jws.signature));
      case 'EdDSA':
      case 'Ed25519':
        // RFC 8037 §3.1 (EdDSA), RFC 9864 (Ed25519): the curve is the key's; Ed25519 names one.
        if (type !== 'ed25519' && !(type === 'ed448' && alg === 'EdDSA')) return false;
        return verify(null, data, key, jws.signature);
      default:
        return false;
    }
  } catch {
    return false;
  }
}

/**
 * RFC 7518 §3.4 R || S (fixed length) → the DER ECDSA-Sig-Value OpenSSL verifies natively
 * (SEC 1 §C.5: SEQUENCE { r INTEGER, s INTEGER }, minimal two's-complement integers). Cheaper than
 * asking Node for `dsaEncoding: 'ieee-p1363'`, which prepares the key again on every call.
 */
export function p1363ToDer(sig: Buffer): Buffer {
  const half = sig.length / 2;
  const r = derInteger(sig.subarray(0, half));
  const s = derInteger(sig.subarray(half));
  return Buffer.concat([Buffer.from([0x30]), derLength(r.length + s.length), r, s]);
}

function derInteger(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  let v = bytes.subarray(i);
  if (((v[0] as number) & 0x80) !== 0) v = Buffer.concat([Buffer.from([0]), v]);
  return Buffer.concat([Buffer.from([0x02]), derLength(v.length), v]);
}

function derLength(n: number): Buffer {
  return n < 0x80 ? Buffer.from([n]) : Buffer.from([0x81, n]);
}
