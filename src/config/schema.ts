/**
 * The root schema of rampart.yaml, assembled from the core's own keys and every stage's schema.
 * Strict: unknown keys are errors everywhere (additionalProperties: false).
 */
import type { JsonSchema, StageModule } from '../core/stage.ts';
import { authServerSchema } from '../auth-server/config.ts';
import { storeRootSchema } from '../store/config.ts';
import { authenticationSchema } from '../stages/authn/config.ts';
import { authorizationSchema } from '../stages/authz/config.ts';
import { rateLimitRootSchema, upstreamConcurrencySchema } from '../ratelimit/settings.ts';

/** mTLS: on a listener for every name, or on one certificate for its names only. */
const clientAuthSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ca'],
  properties: { ca: { type: 'string', minLength: 1 }, required: { type: 'boolean', default: false } },
} as const;

const id = { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', 'x-message': 'must be an id: lower-case letters, digits, ".", "_" or "-", at most 63' } as const;
const ms = (min: number, max: number, dflt: number) => ({ type: 'integer', minimum: min, maximum: max, default: dflt });
const secretRef = {
  oneOf: [
    { type: 'object', properties: { env: { type: 'string', pattern: '^[A-Za-z_][A-Za-z0-9_]*$' } }, required: ['env'], additionalProperties: false },
    { type: 'object', properties: { file: { type: 'string', minLength: 1 } }, required: ['file'], additionalProperties: false },
  ],
} as const;
const origin = { type: 'string', pattern: '^https?://[^/?#@\\s]+$', 'x-message': 'must be an origin like https://api.example.com (no path)' } as const;
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];

const listener = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'port', 'protocol'],
  properties: {
    name: id,
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'integer', minimum: 0, maximum: 65535 },
    protocol: { enum: ['https', 'http'] },
    publicOrigin: origin,
    redirectTo: origin,
    insecure: { type: 'boolean' },
    admin: { type: 'boolean', default: false },
    allowedHosts: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^(\\[[0-9a-fA-F:.]+\\]|[A-Za-z0-9.-]+)$', 'x-message': 'must be a host name or address without port' } },
    http2: { type: 'boolean', default: true },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        dev: { type: 'boolean' },
        certificates: {
          type: 'array',
          minItems: 1,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['cert', 'key'],
            properties: {
              cert: { type: 'string', minLength: 1 },
              key: { type: 'string', minLength: 1 },
              serverNames: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
              clientAuth: clientAuthSchema,
            },
          },
        },
        clientAuth: clientAuthSchema,
      },
    },
    limits: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        headersTimeoutMs: ms(1000, 120_000, 10_000),
        requestTimeoutMs: ms(1000, 3_600_000, 60_000),
        keepAliveTimeoutMs: ms(100, 600_000, 5_000),
        idleTimeoutMs: ms(1000, 3_600_000, 120_000),
        maxRequestsPerSocket: { type: 'integer', minimum: 0, maximum: 1_000_000, default: 1000 },
        maxConcurrentStreams: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
      },
    },
  },
} as const;

const upstreamSchema = (stageProps: Record<string, JsonSchema>) => ({
  type: 'object',
  additionalProperties: false,
  required: ['id', 'targets'],
  properties: {
    id,
    defaults: { type: 'object', additionalProperties: false, properties: stageProps },
    targets: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: { type: 'string', pattern: '^https?://[^/?#@\\s]+/?$', 'x-message': 'must be a target like http://10.0.0.5:8080 (scheme, host and port; no path)' },
          weight: { type: 'integer', minimum: 1, maximum: 100, default: 1 },
        },
      },
    },
    tls: {
      type: 'object',
      additionalProperties: false,
      properties: {
        ca: { type: 'string', minLength: 1 },
        cert: { type: 'string', minLength: 1 },
        key: { type: 'string', minLength: 1 },
        serverName: { type: 'string', minLength: 1 },
      },
    },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        connectMs: ms(100, 60_000, 2_000),
        headersMs: ms(100, 600_000, 30_000),
        bodyMs: ms(100, 600_000, 30_000),
      },
    },
    retries: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        attempts: { type: 'integer', minimum: 0, maximum: 5, default: 2 },
        backoffMs: ms(0, 10_000, 25),
      },
    },
    health: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        active: {
          type: 'object',
          additionalProperties: false,
          required: ['path'],
          properties: {
            path: { type: 'string', pattern: '^/' },
            intervalMs: ms(200, 600_000, 5_000),
            timeoutMs: ms(100, 60_000, 2_000),
            healthyThreshold: { type: 'integer', minimum: 1, maximum: 100, default: 2 },
            unhealthyThreshold: { type: 'integer', minimum: 1, maximum: 100, default: 2 },
            expectStatus: { type: 'array', items: { type: 'integer', minimum: 100, maximum: 599 }, default: [200, 204] },
          },
        },
        passive: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            unhealthyThreshold: { type: 'integer', minimum: 1, maximum: 100, default: 3 },
            ejectMs: ms(100, 600_000, 10_000),
          },
        },
      },
    },
    circuitBreaker: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        failureRatio: { type: 'number', exclusiveMinimum: 0, maximum: 1, default: 0.5 },
        minimumRequests: { type: 'integer', minimum: 1, maximum: 100_000, default: 20 },
        windowMs: ms(1000, 600_000, 10_000),
        openMs: ms(100, 600_000, 5_000),
        halfOpenRequests: { type: 'integer', minimum: 1, maximum: 1000, default: 3 },
      },
    },
    pool: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        connections: { type: 'integer', minimum: 1, maximum: 10_000, default: 128 },
        keepAliveTimeoutMs: ms(100, 600_000, 4_000),
      },
    },
    concurrency: upstreamConcurrencySchema,
    maxResponseBytes: { type: 'integer', minimum: 1, default: 50 * 1024 * 1024 },
    openapi: {
      type: 'object',
      additionalProperties: false,
      required: ['document'],
      properties: { document: { type: 'string', minLength: 1 }, basePath: { type: 'string', pattern: '^/', default: '/' } },
    },
  },
});

export function buildRootSchema(stages: readonly StageModule[]): JsonSchema {
  const stageProps = Object.fromEntries(stages.map((s) => [s.name, s.schema]));
  const route = {
    type: 'object',
    additionalProperties: false,
    required: ['id', 'path'],
    properties: {
      id,
      listeners: { type: 'array', items: id, minItems: 1 },
      host: { type: 'string', pattern: '^(\\*\\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?$', 'x-message': 'must be a host name like api.example.com or *.example.com' },
      path: { type: 'string', pattern: '^/', maxLength: 2048, 'x-message': 'must start with /' },
      methods: { type: 'array', items: { enum: METHODS }, minItems: 1, uniqueItems: true, maxItems: 7, default: METHODS },
      upstream: id,
      stripPrefix: { type: 'string', pattern: '^/', 'x-message': 'must start with /' },
      websocket: { type: 'boolean', default: false },
      requireClientCertificate: { type: 'boolean', default: false },
      ...stageProps,
    },
  };
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    type: 'object',
    additionalProperties: false,
    required: ['listeners', 'routes'],
    properties: {
      dataDir: { type: 'string', minLength: 1, default: '.rampart' },
      masterKey: secretRef,
      trustedProxies: { type: 'array', items: { type: 'string' }, default: [] },
      forwardedHeader: { enum: ['x-forwarded-for', 'forwarded'], default: 'x-forwarded-for' },
      identity: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          issuer: { type: 'string', minLength: 1, default: 'urn:rampart:gateway' },
          lifetimeSeconds: { type: 'integer', minimum: 5, maximum: 60, default: 60 },
        },
      },
      logging: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: {
          level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' },
          redact: { type: 'array', items: { type: 'string' }, default: [] },
        },
      },
      shutdown: {
        type: 'object',
        additionalProperties: false,
        default: {},
        properties: { graceMs: ms(0, 300_000, 10_000) },
      },
      rateLimit: rateLimitRootSchema(secretRef),
      store: storeRootSchema(secretRef),
      authentication: authenticationSchema,
      authServer: authServerSchema,
      authorization: authorizationSchema,
      listeners: { type: 'array', minItems: 1, items: listener },
      upstreams: { type: 'array', items: upstreamSchema(stageProps), default: [] },
      routes: { type: 'array', items: route },
      defaults: { type: 'object', additionalProperties: false, default: {}, properties: stageProps },
    },
  };
}
