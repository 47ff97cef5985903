/**
 * `authServer` in rampart.yaml: the built-in OAuth 2.0 / OpenID Connect server (oidc-provider),
 * mounted under the path of its issuer URL. Lifetimes have enforced maxima (the schema refuses
 * more), so a config cannot mint long-lived access tokens.
 */
import type { JsonSchema } from '../core/stage.ts';

export interface ResourceConfig {
  /** RFC 8707 resource indicator = the `aud` of its access tokens. */
  readonly indicator: string;
  readonly scopes: readonly string[];
  readonly accessTokenTtlSeconds?: number;
}

export interface StaticClientConfig {
  readonly clientId: string;
  readonly clientName?: string;
  /** Public clients only (token_endpoint_auth_method none); confidential clients live in the store. */
  readonly redirectUris: readonly string[];
  readonly postLogoutRedirectUris: readonly string[];
  readonly grantTypes: readonly string[];
  readonly scopes: readonly string[];
}

export interface AuthServerConfig {
  /** e.g. https://localhost:8443/auth; its path is the mount point. */
  readonly issuer: string;
  readonly accessTokenTtlSeconds: number;
  readonly refreshToken: { readonly idleTtlSeconds: number; readonly absoluteTtlSeconds: number };
  readonly sessionTtlSeconds: number;
  readonly interactionTtlSeconds: number;
  readonly deviceCodeTtlSeconds: number;
  readonly resources: readonly ResourceConfig[];
  readonly defaultResource?: string;
  readonly clients: readonly StaticClientConfig[];
  readonly login: {
    /** Failures per username+IP (and per IP) within the window before the delay grows. */
    readonly maxFailures: number;
    readonly windowSeconds: number;
    /** First lockout delay; doubles with every further failure, up to maxDelaySeconds. */
    readonly baseDelaySeconds: number;
    readonly maxDelaySeconds: number;
  };
  /** Seconds between polls of the store for rotated signing keys. */
  readonly keyPollSeconds: number;
}

/** RFC 9068 access tokens are meant to be short-lived: Rampart never issues one beyond an hour. */
export const MAX_ACCESS_TOKEN_TTL = 3600;

const scope = { type: 'string', pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$', 'x-message': 'must be a scope token (RFC 6749 §3.3)' } as const;
const redirectUri = { type: 'string', pattern: '^(https://|http://127\\.0\\.0\\.1[:/]|http://\\[::1\\][:/]|[a-z][a-z0-9+.-]*\\.[a-z0-9+.-]+:/)[^\\s#]*$', 'x-message': 'must be https://, a loopback http://127.0.0.1 URI (RFC 8252 §7.3) or a private-use scheme' } as const;
const seconds = (min: number, max: number, dflt: number) => ({ type: 'integer', minimum: min, maximum: max, default: dflt });

export const authServerSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['issuer'],
  properties: {
    issuer: { type: 'string', pattern: '^https://[^/?#@\\s]+(/[^?#\\s]*[^/?#\\s])?$', 'x-message': 'must be an https:// URL, optionally with a path (no trailing slash, query or fragment)' },
    accessTokenTtlSeconds: seconds(30, MAX_ACCESS_TOKEN_TTL, 300),
    refreshToken: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        idleTtlSeconds: seconds(60, 30 * 86400, 86400),
        absoluteTtlSeconds: seconds(300, 90 * 86400, 14 * 86400),
      },
    },
    sessionTtlSeconds: seconds(60, 30 * 86400, 8 * 3600),
    interactionTtlSeconds: seconds(60, 3600, 600),
    deviceCodeTtlSeconds: seconds(60, 1800, 600),
    resources: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['indicator', 'scopes'],
        properties: {
          indicator: { type: 'string', pattern: '^(https://[^\\s#]+|urn:[a-z0-9][a-z0-9-]{0,31}:[^\\s#]+)$', 'x-message': 'must be an https:// URL or a URN without fragment (RFC 8707 §2)' },
          scopes: { type: 'array', items: scope, uniqueItems: true, maxItems: 100 },
          accessTokenTtlSeconds: { type: 'integer', minimum: 30, maximum: MAX_ACCESS_TOKEN_TTL },
        },
      },
    },
    defaultResource: { type: 'string', minLength: 1 },
    clients: {
      type: 'array',
      default: [],
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['clientId', 'redirectUris'],
        properties: {
          clientId: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,64}$', 'x-message': 'must be 1–64 letters, digits, ".", "_" or "-"' },
          clientName: { type: 'string', minLength: 1, maxLength: 100 },
          redirectUris: { type: 'array', items: redirectUri, uniqueItems: true, maxItems: 20 },
          postLogoutRedirectUris: { type: 'array', items: redirectUri, uniqueItems: true, maxItems: 20, default: [] },
          grantTypes: {
            type: 'array',
            uniqueItems: true,
            minItems: 1,
            // No implicit and no password grant exist here (OAuth 2.0 Security BCP, RFC 9700 §2.1.2, §2.4).
            items: { enum: ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code'] },
            default: ['authorization_code', 'refresh_token'],
          },
          scopes: { type: 'array', items: scope, uniqueItems: true, default: ['openid', 'offline_access'] },
        },
      },
    },
    login: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        maxFailures: { type: 'integer', minimum: 1, maximum: 100, default: 5 },
        windowSeconds: seconds(60, 86400, 900),
        baseDelaySeconds: seconds(1, 3600, 30),
        maxDelaySeconds: seconds(1, 86400, 900),
      },
    },
    keyPollSeconds: seconds(1, 3600, 30),
  },
};

/** Cross-field checks, reported with their path. `dev`: some listener has tls.dev. */
export function checkAuthServer(config: AuthServerConfig, routeHosts: readonly (string | undefined)[], dev: boolean): Array<{ path: (string | number)[]; message: string; severity?: 'warning' }> {
  const out: Array<{ path: (string | number)[]; message: string; severity?: 'warning' }> = [];
  const indicators = new Set(config.resources.map((r) => r.indicator));
  if (config.defaultResource !== undefined && !indicators.has(config.defaultResource)) {
    out.push({ path: ['authServer', 'defaultResource'], message: 'must be the indicator of one of authServer.resources' });
  }
  if (indicators.size !== config.resources.length) out.push({ path: ['authServer', 'resources'], message: 'resource indicators must be unique' });
  const ids = new Set<string>();
  config.clients.forEach((c, i) => {
    if (ids.has(c.clientId)) out.push({ path: ['authServer', 'clients', i, 'clientId'], message: `duplicate client id "${c.clientId}"` });
    ids.add(c.clientId);
    if (c.grantTypes.includes('authorization_code') && c.redirectUris.length === 0) {
      out.push({ path: ['authServer', 'clients', i, 'redirectUris'], message: 'a client of the authorization code grant needs at least one redirect URI' });
    }
  });
  if (config.refreshToken.idleTtlSeconds > config.refreshToken.absoluteTtlSeconds) {
    out.push({ path: ['authServer', 'refreshToken', 'idleTtlSeconds'], message: 'cannot exceed refreshToken.absoluteTtlSeconds' });
  }
  if (config.login.baseDelaySeconds > config.login.maxDelaySeconds) {
    out.push({ path: ['authServer', 'login', 'baseDelaySeconds'], message: 'cannot exceed login.maxDelaySeconds' });
  }
  // S1: outside development mode the login pages have an origin of their own, so that no
  // upstream's HTML (and script) shares an origin with them.
  const host = new URL(config.issuer).hostname.toLowerCase();
  const shared = routeHosts.some((h) => h === undefined || h.replace(/:\d+$/, '').toLowerCase() === host || (h.startsWith('*.') && host.endsWith(h.slice(1).replace(/:\d+$/, '').toLowerCase())));
  if (shared) {
    if (dev) {
      out.push({ path: ['authServer', 'issuer'], message: `development mode: the login pages share the origin of the API routes (S1); give the authorization server a host of its own in production`, severity: 'warning' });
    } else {
      out.push({ path: ['authServer', 'issuer'], message: `the authorization server needs an origin of its own outside development mode (S1): give every route a host other than ${host}` });
    }
  }
  return out;
}
