/**
 * The service side of `Rampart-Identity`: what an upstream uses to check that a request came
 * through the gateway, and who the caller is. Verification per RFC 7519 §7.2 and the JWT BCP
 * (RFC 8725): one algorithm (ES256), explicit `typ`, `iss` and `aud` required and compared exactly.
 */
import { X509Certificate } from 'node:crypto';
import { Agent, fetch as undiciFetch } from 'undici';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  errors,
  jwtVerify,
  type JWK,
  type JWTVerifyGetKey,
} from 'jose';
import {
  IDENTITY_ALG,
  IDENTITY_MAX_LIFETIME_SECONDS,
  IDENTITY_TYP,
  parseRampartClaim,
  type IdentityClaims,
} from './claims.ts';

export type IdentityErrorCode =
  /** No `Rampart-Identity` header (or more than one). */
  | 'RAMPART_IDENTITY_MISSING'
  /** Not a compact JWS, or claims of the wrong shape. */
  | 'RAMPART_IDENTITY_MALFORMED'
  /** Signature, algorithm, typ, issuer or audience refused. */
  | 'RAMPART_IDENTITY_INVALID'
  /** `exp` passed (beyond the clock tolerance), or `iat` too old. */
  | 'RAMPART_IDENTITY_EXPIRED'
  /** The JWKS could not be fetched: fail closed, answer 503 rather than 401. */
  | 'RAMPART_IDENTITY_KEYS_UNAVAILABLE';

export class IdentityVerificationError extends Error {
  readonly code: IdentityErrorCode;
  /** For the service's log only; never sent to the client. */
  readonly reason: string;

  constructor(code: IdentityErrorCode, reason: string, options?: { cause?: unknown }) {
    super(`${code}: ${reason}`, options);
    this.name = 'IdentityVerificationError';
    this.code = code;
    this.reason = reason;
  }
}

export interface IdentityVerifierOptions {
  /** The gateway's JWKS URL (https, or http on loopback only). Exclusive with `jwks`. */
  readonly jwksUrl?: string;
  /** A local key set (e.g. `signer.jwks()` in-process, or a file). Exclusive with `jwksUrl`. */
  readonly jwks?: { readonly keys: readonly JWK[] };
  /** The gateway's identity issuer (`identity.issuer` in its config). */
  readonly issuer: string;
  /** This service's upstream id in the gateway config. */
  readonly audience: string;
  /** PEM of the CA to trust for `jwksUrl` (e.g. the dev CA `.rampart/tls/ca.crt`); replaces the system roots. */
  readonly ca?: string | Buffer;
  readonly clockToleranceSeconds?: number;
}

export interface IdentityVerifier {
  /** The claims of a valid token; an IdentityVerificationError otherwise. */
  verify(headerValue: string | readonly string[] | undefined): Promise<IdentityClaims>;
  /** Releases the HTTP connections of a remote JWKS. */
  close(): Promise<void>;
}

const MAX_TOKEN_LENGTH = 8192;
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const JWKS_MAX_BYTES = 256 * 1024;
const JWKS_TIMEOUT_MS = 5000;
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

export function createIdentityVerifier(options: IdentityVerifierOptions): IdentityVerifier {
  const { issuer, audience } = options;
  if (typeof issuer !== 'string' || issuer.length === 0) throw new TypeError('issuer is required.');
  if (typeof audience !== 'string' || audience.length === 0) throw new TypeError('audience is required.');
  const tolerance = options.clockToleranceSeconds ?? 5;
  if (!Number.isFinite(tolerance) || tolerance < 0 || tolerance > 60) {
    throw new RangeError('clockToleranceSeconds must be between 0 and 60.');
  }
  if ((options.jwksUrl === undefined) === (options.jwks === undefined)) {
    throw new TypeError('Give exactly one of jwksUrl and jwks.');
  }

  let agent: Agent | undefined;
  let keySet: JWTVerifyGetKey;
  if (options.jwks !== undefined) {
    keySet = createLocalJWKSet({ keys: options.jwks.keys.map((k) => ({ ...k })) });
  } else {
    const url = new URL(options.jwksUrl as string);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.has(url.hostname))) {
      throw new TypeError(`jwksUrl must use https (http is accepted on loopback only): ${url.href}`);
    }
    if (options.ca !== undefined) new X509Certificate(options.ca); // a bad PEM fails now, not per request
    agent = new Agent({
      connect: { timeout: JWKS_TIMEOUT_MS, ...(options.ca !== undefined && { ca: options.ca }) },
      headersTimeout: JWKS_TIMEOUT_MS,
      bodyTimeout: JWKS_TIMEOUT_MS,
    });
    const dispatcher = agent;
    const remote = createRemoteJWKSet(url, {
      timeoutDuration: JWKS_TIMEOUT_MS,
      [customFetch]: async (resource, init) => {
        const response = await undiciFetch(resource, {
          method: init.method,
          headers: Object.fromEntries(init.headers),
          redirect: init.redirect,
          signal: init.signal,
          dispatcher,
        });
        const body = await readCapped(response.body, JWKS_MAX_BYTES);
        return new Response(body, { status: response.status, headers: { 'content-type': 'application/json' } });
      },
    });
    // A key that cannot be fetched is not an invalid token: tell them apart (fail closed, 503).
    keySet = async (header, token) => {
      try {
        return await remote(header, token);
      } catch (error) {
        if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys) throw error;
        throw new IdentityVerificationError('RAMPART_IDENTITY_KEYS_UNAVAILABLE', `JWKS: ${(error as Error).message}`, {
          cause: error,
        });
      }
    };
  }

  const verify = async (headerValue: string | readonly string[] | undefined): Promise<IdentityClaims> => {
    if (headerValue === undefined || headerValue === '') {
      throw new IdentityVerificationError('RAMPART_IDENTITY_MISSING', 'no Rampart-Identity header');
    }
    if (typeof headerValue !== 'string') {
      throw new IdentityVerificationError('RAMPART_IDENTITY_MISSING', 'more than one Rampart-Identity header');
    }
    if (headerValue.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(headerValue)) {
      throw new IdentityVerificationError('RAMPART_IDENTITY_MALFORMED', 'not a compact JWS');
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(headerValue, keySet, {
        algorithms: [IDENTITY_ALG], // RFC 8725 §3.1: never the token's own choice
        typ: IDENTITY_TYP, // RFC 8725 §3.11
        issuer,
        audience,
        clockTolerance: tolerance,
        // The signer never issues more than 60 s; a longer-lived token is not the gateway's.
        maxTokenAge: IDENTITY_MAX_LIFETIME_SECONDS + tolerance,
        requiredClaims: ['iss', 'aud', 'sub', 'iat', 'exp', 'jti'],
      }));
    } catch (error) {
      throw classify(error);
    }
    const rampart = parseRampartClaim(payload.rampart);
    const { iss, aud, sub, iat, exp, jti } = payload;
    if (
      rampart === undefined ||
      typeof aud !== 'string' || // exactly one audience: this service
      typeof iss !== 'string' ||
      typeof sub !== 'string' ||
      typeof iat !== 'number' ||
      typeof exp !== 'number' ||
      typeof jti !== 'string' ||
      exp - iat > IDENTITY_MAX_LIFETIME_SECONDS
    ) {
      throw new IdentityVerificationError('RAMPART_IDENTITY_MALFORMED', 'claims do not have the Rampart-Identity shape');
    }
    return Object.freeze({ iss, aud, sub, iat, exp, jti, rampart });
  };

  return {
    verify,
    close: async () => {
      await agent?.close();
    },
  };
}

function classify(error: unknown): IdentityVerificationError {
  if (error instanceof IdentityVerificationError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof errors.JWTExpired) return new IdentityVerificationError('RAMPART_IDENTITY_EXPIRED', message);
  if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'iat') {
    return new IdentityVerificationError('RAMPART_IDENTITY_EXPIRED', message);
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) {
    return new IdentityVerificationError('RAMPART_IDENTITY_MALFORMED', message);
  }
  return new IdentityVerificationError('RAMPART_IDENTITY_INVALID', message);
}

async function readCapped(body: ReadableStream<Uint8Array> | null, limit: number): Promise<Uint8Array> {
  if (body === null) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) throw new Error(`JWKS response larger than ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
