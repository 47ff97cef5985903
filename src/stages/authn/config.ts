/**
 * Settings of authentication: the top-level `authentication` section (who issues credentials the
 * gateway trusts) and the per-route `authn` stage settings (whether a route requires them, and
 * which it accepts). docs/config.md documents every key.
 */
import type { JsonSchema } from '../../core/stage.ts';
import type { StageMode } from '../../core/stage.ts';

/**
 * JWS algorithms a token may be signed with (RFC 7518 §3.1, RFC 8037 §3.1). Asymmetric only:
 * `none` and the HMAC family can never be configured, so no key confusion (RFC 8725 §2.1, §3.1).
 */
export const JWS_ALGORITHMS = ['ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;
export type JwsAlgorithm = (typeof JWS_ALGORITHMS)[number];

/** `typ` a token's JOSE header must carry: RFC 9068 `at+jwt`, `JWT` (Keycloak, Entra, Auth0), or any. */
export type TypRule = 'at+jwt' | 'JWT' | 'any';

export interface Binding {
  /** `user:ID`, `client:ID` or `key:ID` (a bare name means a user). */
  readonly subject: string;
  readonly roles: readonly string[];
}

export interface ClaimRoles {
  /** Dotted path of the claim that lists the IdP's roles or groups, e.g. realm_access.roles. */
  readonly claim: string;
  /** IdP value → Rampart roles. Values not listed give no role. */
  readonly map: Readonly<Record<string, readonly string[]>>;
}

export interface VerificationSettings {
  readonly algorithms: readonly JwsAlgorithm[];
  readonly maxLifetimeSeconds: number;
  readonly clockSkewSeconds: number;
  readonly bindings: readonly Binding[];
}

export interface ExternalIssuerConfig extends VerificationSettings {
  readonly id: string;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly requireTyp: TypRule;
  /** Skips discovery when set. */
  readonly jwksUri?: string;
  /** PEM file of the CAs that sign the issuer's TLS certificate (default: Node's public roots). */
  readonly ca?: string;
  /** S8: private, loopback and link-local addresses are refused unless this is true. */
  readonly allowPrivateNetwork: boolean;
  readonly refreshSeconds: number;
  readonly cooldownSeconds: number;
  readonly maxStalenessSeconds: number;
  readonly scopeClaim: string;
  readonly roles?: ClaimRoles;
}

export interface BuiltinSettings extends VerificationSettings {
  /** Defaults to the audiences the built-in server issues tokens for (its resources). */
  readonly audiences?: readonly string[];
}

export interface AuthenticationConfig {
  readonly realm: string;
  readonly issuers: readonly ExternalIssuerConfig[];
  readonly builtin: BuiltinSettings;
  readonly apiKeys: { readonly enabled: boolean; readonly cacheSeconds: number; readonly bindings: readonly Binding[] };
  readonly tokenCache: { readonly maxEntries: number };
  readonly denyList: { readonly pollSeconds: number; readonly maxStalenessSeconds: number };
  readonly accountCacheSeconds: number;
}

/** The route's `authn` settings (merged defaults → upstream → route). */
export interface AuthnStageConfig {
  /** Absent: true once any credential source is configured (secure by default), else false. */
  readonly required?: boolean;
  /** Issuer ids accepted on the route (`builtin` for the built-in server); absent: all. */
  readonly issuers?: readonly string[];
  readonly apiKeys: boolean;
  /** The token's `aud` must contain one of these (narrows the issuer's audiences for this API). */
  readonly audiences?: readonly string[];
  readonly mode: StageMode;
}

export const BUILTIN_ID = 'builtin';

const idPattern = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', 'x-message': 'must be an id: lower-case letters, digits, ".", "_" or "-", at most 63' } as const;
const roleName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$', 'x-message': 'must be a role name: letters, digits, ":", ".", "_" or "-"' } as const;
const subjectPattern = { type: 'string', pattern: '^((user|client|key):)?[^\\s:][^\\s]{0,254}$', 'x-message': 'must be user:ID, client:ID or key:ID' } as const;
const httpsUrl = { type: 'string', pattern: '^https://[^\\s#?@]+$', 'x-message': 'must be an https:// URL without query, fragment or userinfo (S8)' } as const;
const seconds = (min: number, max: number, dflt: number) => ({ type: 'integer', minimum: min, maximum: max, default: dflt });
const bindings = {
  type: 'array',
  default: [],
  maxItems: 10000,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['subject', 'roles'],
    properties: { subject: subjectPattern, roles: { type: 'array', items: roleName, maxItems: 100 } },
  },
} as const;
const algorithms = (dflt?: readonly string[]) => ({
  type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...JWS_ALGORITHMS] }, ...(dflt ? { default: [...dflt] } : {}),
});
const audiences = { type: 'array', minItems: 1, maxItems: 100, items: { type: 'string', minLength: 1, maxLength: 512 } } as const;

/** The top-level `authentication` section (not a stage schema: its defaults are schema defaults). */
export const authenticationSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  default: {},
  properties: {
    realm: { type: 'string', pattern: '^[\\x20\\x21\\x23-\\x5B\\x5D-\\x7E]{1,64}$', default: 'rampart', 'x-message': 'must be printable ASCII without " or \\' },
    issuers: {
      type: 'array',
      default: [],
      maxItems: 50,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'issuer', 'audiences', 'algorithms'],
        properties: {
          id: idPattern,
          issuer: httpsUrl,
          audiences,
          algorithms: algorithms(),
          requireTyp: { enum: ['at+jwt', 'JWT', 'any'], default: 'at+jwt' },
          jwksUri: httpsUrl,
          ca: { type: 'string', minLength: 1 },
          allowPrivateNetwork: { type: 'boolean', default: false },
          refreshSeconds: seconds(30, 86400, 300),
          cooldownSeconds: seconds(1, 3600, 30),
          maxStalenessSeconds: seconds(60, 7 * 86400, 3600),
          maxLifetimeSeconds: seconds(30, 86400, 3600),
          clockSkewSeconds: seconds(0, 300, 30),
          scopeClaim: { type: 'string', pattern: '^[A-Za-z0-9_:.-]{1,64}$', default: 'scope' },
          roles: {
            type: 'object',
            additionalProperties: false,
            required: ['claim', 'map'],
            properties: {
              claim: { type: 'string', pattern: '^[A-Za-z0-9_:/-]+(\\.[A-Za-z0-9_:/-]+)*$', maxLength: 256 },
              map: { type: 'object', maxProperties: 10000, additionalProperties: { type: 'array', items: roleName, maxItems: 100 } },
            },
          },
          bindings,
        },
      },
    },
    builtin: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        audiences,
        algorithms: algorithms(['ES256', 'EdDSA']),
        maxLifetimeSeconds: seconds(30, 86400, 3600),
        clockSkewSeconds: seconds(0, 300, 30),
        bindings,
      },
    },
    apiKeys: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        enabled: { type: 'boolean', default: false },
        cacheSeconds: seconds(0, 300, 10),
        bindings,
      },
    },
    tokenCache: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { maxEntries: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 10_000 } },
    },
    denyList: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: { pollSeconds: seconds(1, 60, 2), maxStalenessSeconds: seconds(5, 600, 30) },
    },
    accountCacheSeconds: seconds(0, 300, 5),
  },
};

/** The route-level `authn` stage schema: strict, no `default` keywords (defaults live in the module). */
export const authnStageSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    required: { type: 'boolean' },
    issuers: { type: 'array', uniqueItems: true, maxItems: 51, items: idPattern },
    apiKeys: { type: 'boolean' },
    audiences,
    mode: { enum: ['enforce', 'shadow'] },
  },
};

/** Splits `user:alice` / `client:x` / `key:id` / `alice` into kind and id. */
export function parseSubject(text: string): { kind: 'user' | 'client' | 'key'; id: string } {
  const m = /^(user|client|key):(.*)$/.exec(text);
  if (m) return { kind: m[1] as 'user' | 'client' | 'key', id: m[2] as string };
  return { kind: 'user', id: text };
}
