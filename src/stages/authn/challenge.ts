/**
 * `WWW-Authenticate` challenges and the gateway errors that carry them:
 * RFC 6750 §3 (Bearer: `invalid_request`, `invalid_token`, `insufficient_scope`), RFC 9470 §3
 * (`insufficient_user_authentication` with `acr_values` / `max_age`), and an `ApiKey` challenge for
 * `X-API-Key` (no registered scheme exists; it names the header so clients know what to send).
 */
import { GatewayError } from '../../errors/problem.ts';
import type { ErrorCode } from '../../errors/catalog.ts';

export type BearerErrorCode = 'invalid_request' | 'invalid_token' | 'insufficient_scope' | 'insufficient_user_authentication';

export interface BearerChallenge {
  readonly realm: string;
  /** RFC 6750 §3.1: omitted when the request carried no credentials at all. */
  readonly error?: BearerErrorCode;
  readonly description?: string;
  /** RFC 6750 §3: space-delimited scopes needed (with insufficient_scope). */
  readonly scope?: readonly string[];
  /** RFC 9470 §3: acceptable authentication context classes, in order of preference. */
  readonly acrValues?: readonly string[];
  /** RFC 9470 §3: the authentication must be at most this old, in seconds. */
  readonly maxAge?: number;
}

/**
 * RFC 6750 §3: error_description and scope values are limited to %x20-21 / %x23-5B / %x5D-7E
 * (no `"` and no `\`), so a quoted-string never needs escaping; anything else is dropped.
 */
function quoted(value: string): string {
  return `"${value.replace(/[^\x20\x21\x23-\x5B\x5D-\x7E]/g, '')}"`;
}

/** Builds `Bearer realm="…", error="…", error_description="…"` (RFC 6750 §3, RFC 9470 §3). */
export function bearerChallenge(c: BearerChallenge): string {
  const params = [`realm=${quoted(c.realm)}`];
  if (c.error) {
    params.push(`error=${quoted(c.error)}`);
    if (c.description) params.push(`error_description=${quoted(c.description)}`);
  }
  if (c.scope && c.scope.length) params.push(`scope=${quoted(c.scope.join(' '))}`);
  if (c.acrValues && c.acrValues.length) params.push(`acr_values=${quoted(c.acrValues.join(' '))}`);
  if (c.maxAge !== undefined) params.push(`max_age=${Math.max(0, Math.floor(c.maxAge))}`);
  return `Bearer ${params.join(', ')}`;
}

export function apiKeyChallenge(realm: string): string {
  return `ApiKey realm=${quoted(realm)}, header="X-API-Key"`;
}

/** Which challenges a route answers with: Bearer when it accepts tokens, ApiKey when it accepts keys. */
export interface ChallengeSchemes {
  readonly realm: string;
  readonly bearer: boolean;
  readonly apiKey: boolean;
}

function challenges(s: ChallengeSchemes, bearer: Omit<BearerChallenge, 'realm'> | undefined, apiKeyFirst = false): string {
  const list: string[] = [];
  if (s.bearer) list.push(bearerChallenge({ realm: s.realm, ...bearer }));
  if (s.apiKey) list.push(apiKeyChallenge(s.realm));
  if (apiKeyFirst) list.reverse();
  return list.join(', ');
}

/** 401 without an error code: the request carried no credentials (RFC 6750 §3.1). */
export function credentialsRequired(s: ChallengeSchemes): GatewayError {
  return new GatewayError('RAMPART_AUTHN_REQUIRED', { headers: { 'www-authenticate': challenges(s, undefined) }, reason: 'no credentials' });
}

const TOKEN_DESCRIPTIONS = {
  RAMPART_AUTHN_TOKEN_INVALID: 'The access token is invalid',
  RAMPART_AUTHN_TOKEN_EXPIRED: 'The access token expired',
  RAMPART_AUTHN_TOKEN_REVOKED: 'The access token was revoked',
} as const satisfies Partial<Record<ErrorCode, string>>;

/** 401 invalid_token (RFC 6750 §3.1); `reason` goes to the log only. */
export function invalidToken(s: ChallengeSchemes, code: keyof typeof TOKEN_DESCRIPTIONS, reason: string): GatewayError {
  const description = TOKEN_DESCRIPTIONS[code];
  return new GatewayError(code, { headers: { 'www-authenticate': challenges(s, { error: 'invalid_token', description }) }, reason });
}

/** 400 invalid_request (RFC 6750 §3.1): malformed credentials, several of them, or a token in the query. */
export function invalidRequest(s: ChallengeSchemes, code: 'RAMPART_AUTHN_BAD_REQUEST' | 'RAMPART_AUTHN_TOKEN_IN_QUERY', description: string, reason: string): GatewayError {
  return new GatewayError(code, { detail: description, headers: { 'www-authenticate': challenges(s, { error: 'invalid_request', description }) }, reason });
}

export function invalidApiKey(s: ChallengeSchemes, reason: string): GatewayError {
  return new GatewayError('RAMPART_AUTHN_API_KEY_INVALID', { headers: { 'www-authenticate': challenges(s, undefined, true) }, reason });
}

/** 503: a key set, the deny-list or the account store cannot be read — fail closed (DESIGN "Fail closed"). */
export function unavailable(reason: string, retryAfterSeconds = 5): GatewayError {
  return new GatewayError('RAMPART_AUTHN_UNAVAILABLE', { headers: { 'retry-after': String(retryAfterSeconds) }, reason });
}

/**
 * 403 insufficient_scope (RFC 6750 §3.1): the token is valid but lacks a scope. For the
 * authorization stage, which decides when.
 */
export function insufficientScope(realm: string, scopes: readonly string[], reason = 'insufficient scope'): GatewayError {
  return new GatewayError('RAMPART_AUTHN_INSUFFICIENT_SCOPE', {
    headers: { 'www-authenticate': bearerChallenge({ realm, error: 'insufficient_scope', description: 'The access token lacks a required scope', scope: scopes }) },
    extensions: { scopes: [...scopes] },
    reason,
  });
}

/**
 * 401 insufficient_user_authentication (RFC 9470 §3): authenticate again with one of `acrValues`
 * and/or no longer ago than `maxAge` seconds. For the authorization stage, which decides when.
 */
export function stepUpRequired(realm: string, options: { acrValues?: readonly string[]; maxAge?: number; reason?: string }): GatewayError {
  const description = options.maxAge !== undefined && !options.acrValues?.length
    ? 'A more recent authentication is required'
    : 'A stronger authentication is required';
  return new GatewayError('RAMPART_AUTHN_STEP_UP_REQUIRED', {
    headers: {
      'www-authenticate': bearerChallenge({
        realm, error: 'insufficient_user_authentication', description,
        ...(options.acrValues ? { acrValues: options.acrValues } : {}),
        ...(options.maxAge !== undefined ? { maxAge: options.maxAge } : {}),
      }),
    },
    reason: options.reason ?? 'step-up authentication required',
  });
}
