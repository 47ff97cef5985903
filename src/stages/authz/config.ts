/**
 * Settings of authorization: the top-level `authorization` section (the policy: permissions,
 * roles, rules) and the per-route `authz` stage settings (only `mode`). docs/authz.md explains the
 * model; docs/config.md lists every key.
 */
import type { JsonSchema, StageMode } from '../../core/stage.ts';

export const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type Method = (typeof METHODS)[number];
export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;
export type Day = (typeof DAYS)[number];

export interface PermissionConfig {
  readonly description?: string;
  /** Token scopes that carry this permission (default: the permission's own name). */
  readonly scopes?: readonly string[];
}

export interface RoleConfig {
  readonly description?: string;
  /** Roles whose permissions this role also has. */
  readonly inherits?: readonly string[];
  /** Declared permissions; `orders:*` or `*` grant every declared permission they match (linted). */
  readonly permissions?: readonly string[];
}

export interface ScheduleWindow {
  readonly days?: readonly Day[];
  /** HH:MM, local time in the window's time zone; `to` before `from` spans midnight. */
  readonly from?: string;
  readonly to?: string;
  readonly timeZone?: string;
}

export interface MfaCondition {
  /** `amr` values that count as a second factor (default [otp]). */
  readonly amr?: readonly string[];
  /** The authentication must be at most this old (`auth_time`), else step-up. */
  readonly maxAgeSeconds?: number;
}

export interface OwnershipSubjects {
  /** Issuer id (`builtin`, an `authentication.issuers[].id`, or `api-keys`); default builtin. */
  readonly issuer?: string;
  readonly kind?: 'user' | 'client' | 'key';
}

/** One request value that must equal the principal's attribute. */
export type RequestValue = { readonly path: string } | { readonly query: string } | { readonly body: string };

export interface OwnershipConfig {
  /** Whose ids the owner values are (S3: a principal of another issuer or kind never matches). */
  readonly principal?: OwnershipSubjects;
  /** The principal attribute compared: subject (default), tenant, clientId, or claim:NAME. */
  readonly attribute?: string;
  readonly request?: readonly RequestValue[];
  /** The upstream's answer: `field` of the object, or of every element when it is an array. */
  readonly response?: { readonly field: string; readonly items?: string };
  /**
   * Before the request goes upstream (a change or a delete), the object is fetched from the same
   * upstream with the caller's identity — GET `path` ({params} from the route) — and its `field`
   * must be the caller's.
   */
  readonly lookup?: { readonly path: string; readonly field: string };
  /** Status of a mismatch; default 404 (does not confirm the object exists). */
  readonly onMismatch?: 403 | 404;
}

export interface RuleConfig {
  readonly id: string;
  readonly description?: string;
  /** Route ids the rule covers (or `path`: the routes with exactly that path template). */
  readonly routes?: readonly string[];
  readonly route?: string;
  readonly path?: string;
  /** Default: every method of the covered routes. */
  readonly methods?: readonly Method[];
  /** Exactly one of public / authenticated / permissions. */
  readonly public?: boolean;
  readonly authenticated?: boolean;
  readonly permissions?: readonly string[];
  readonly networks?: readonly string[];
  readonly schedule?: readonly ScheduleWindow[];
  readonly mfa?: MfaCondition | boolean;
  readonly ownership?: OwnershipConfig;
  readonly mode?: StageMode;
}

export interface AuthorizationConfig {
  readonly mode: StageMode;
  /** Default time zone of schedules (IANA name). */
  readonly timeZone: string;
  /** A token's scopes narrow its roles' permissions (a token never does more than its user may). */
  readonly scopeNarrowing: boolean;
  readonly permissions: Readonly<Record<string, PermissionConfig>>;
  readonly roles: Readonly<Record<string, RoleConfig>>;
  readonly rules: readonly RuleConfig[];
}

export interface AuthzStageConfig {
  readonly mode: StageMode;
}

const ruleId = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', 'x-message': 'must be an id: lower-case letters, digits, ".", "_" or "-", at most 63' } as const;
const routeId = { type: 'string', minLength: 1, maxLength: 128 } as const;
const roleName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$', 'x-message': 'must be a role name: letters, digits, ":", ".", "_" or "-"' } as const;
const permissionName = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9:._/-]{0,127}$', 'x-message': 'must be a permission name like orders:read' } as const;
const grantName = { type: 'string', pattern: '^(\\*|[A-Za-z0-9][A-Za-z0-9:._/-]{0,127}(:\\*)?)$', 'x-message': 'must be a permission name, `prefix:*` or `*`' } as const;
const hhmm = { type: 'string', pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$', 'x-message': 'must be HH:MM (00:00 to 24:00)' } as const;
const timeZone = { type: 'string', minLength: 1, maxLength: 64 } as const;
const description = { type: 'string', maxLength: 1000 } as const;
const name = { type: 'string', pattern: '^[A-Za-z0-9_.~-]{1,128}$', 'x-message': 'must be a parameter name' } as const;
const pointer = { type: 'string', pattern: '^(/([^/~]|~[01])*)+$', maxLength: 512, 'x-message': 'must be a JSON pointer like /customerId' } as const;
const field = { type: 'string', pattern: '^[A-Za-z0-9_$-]+(\\.[A-Za-z0-9_$-]+)*$', maxLength: 256, 'x-message': 'must be a field name or dotted path like owner.id' } as const;

const ownershipSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    principal: {
      type: 'object', additionalProperties: false,
      properties: { issuer: ruleId, kind: { enum: ['user', 'client', 'key'] } },
    },
    attribute: { type: 'string', pattern: '^(subject|tenant|clientId|claim:[A-Za-z0-9_:.-]{1,64})$', 'x-message': 'must be subject, tenant, clientId or claim:NAME' },
    request: {
      type: 'array', minItems: 1, maxItems: 10,
      items: {
        type: 'object', additionalProperties: false, minProperties: 1, maxProperties: 1,
        properties: { path: name, query: name, body: pointer },
        'x-message': 'must name one value: path, query or body',
      },
    },
    response: {
      type: 'object', additionalProperties: false, required: ['field'],
      properties: { field, items: pointer },
    },
    lookup: {
      type: 'object', additionalProperties: false, required: ['path', 'field'],
      properties: {
        path: { type: 'string', pattern: '^/[A-Za-z0-9._~!$&\'()*+,;=:@/{}-]*$', maxLength: 2048, 'x-message': 'must be an upstream path like /orders/{id}' },
        field,
      },
    },
    onMismatch: { enum: [403, 404] },
  },
} as const;

/** The top-level `authorization` section (not a stage schema: its defaults are schema defaults). */
export const authorizationSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    mode: { enum: ['enforce', 'shadow'], default: 'enforce' },
    timeZone: { ...timeZone, default: 'UTC' },
    scopeNarrowing: { type: 'boolean', default: true },
    permissions: {
      type: 'object',
      default: {},
      maxProperties: 10000,
      propertyNames: permissionName,
      additionalProperties: {
        type: 'object', additionalProperties: false,
        properties: { description, scopes: { type: 'array', minItems: 1, maxItems: 20, items: { type: 'string', pattern: '^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,256}$' } } },
      },
    },
    roles: {
      type: 'object',
      default: {},
      maxProperties: 10000,
      propertyNames: roleName,
      additionalProperties: {
        type: 'object', additionalProperties: false,
        properties: {
          description,
          inherits: { type: 'array', uniqueItems: true, maxItems: 100, items: roleName },
          permissions: { type: 'array', uniqueItems: true, maxItems: 1000, items: grantName },
        },
      },
    },
    rules: {
      type: 'array',
      default: [],
      maxItems: 10000,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id'],
        properties: {
          id: ruleId,
          description,
          route: routeId,
          routes: { type: 'array', minItems: 1, uniqueItems: true, maxItems: 1000, items: routeId },
          path: { type: 'string', pattern: '^/', maxLength: 2048 },
          methods: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...METHODS] } },
          public: { const: true, 'x-message': 'is true or absent' },
          authenticated: { const: true, 'x-message': 'is true or absent' },
          permissions: { type: 'array', minItems: 1, uniqueItems: true, maxItems: 50, items: permissionName },
          networks: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1, maxLength: 64 } },
          schedule: {
            type: 'array', minItems: 1, maxItems: 50,
            items: {
              type: 'object', additionalProperties: false,
              properties: { days: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: [...DAYS] } }, from: hhmm, to: hhmm, timeZone },
            },
          },
          mfa: {
            // true, or the settings (no oneOf: a typo inside gets "unknown key", not a riddle).
            type: ['boolean', 'object'],
            additionalProperties: false,
            properties: {
              amr: { type: 'array', minItems: 1, uniqueItems: true, maxItems: 20, items: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,32}$' } },
              maxAgeSeconds: { type: 'integer', minimum: 0, maximum: 31_536_000 },
            },
          },
          ownership: ownershipSchema,
          mode: { enum: ['enforce', 'shadow'] },
        },
      },
    },
  },
};

/** The route-level `authz` stage schema: strict, no `default` keywords (defaults live in the module). */
export const authzStageSchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { mode: { enum: ['enforce', 'shadow'] } },
};
