/**
 * The shape of rampart.yaml after validation and defaults. The schema (schema.ts) is the source
 * of truth for what is accepted; docs/config.md documents every key.
 */
import type { RateLimitSettings, UpstreamConcurrency } from '../ratelimit/settings.ts';

import type { StoreConfig } from '../store/config.ts';
import type { AuthenticationConfig } from '../stages/authn/config.ts';

import type { AuthServerConfig } from '../auth-server/config.ts';
import type { AuthorizationConfig } from '../stages/authz/config.ts';

export type SecretRef = { readonly env: string } | { readonly file: string };

export interface CertificateConfig {
  readonly cert: string;
  readonly key: string;
  readonly serverNames?: readonly string[];
  /** mTLS for this certificate's names only (overrides the listener's `clientAuth`). */
  readonly clientAuth?: ClientAuthConfig;
}

export interface ClientAuthConfig {
  readonly ca: string;
  /** true: handshake fails without a verified certificate; false: routes decide. */
  readonly required: boolean;
}

export interface ListenerTlsConfig {
  readonly dev?: boolean;
  readonly certificates?: readonly CertificateConfig[];
  readonly clientAuth?: ClientAuthConfig;
}

export interface ListenerLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxRequestsPerSocket: number;
  readonly maxConcurrentStreams: number;
}

export interface ListenerConfig {
  readonly name: string;
  readonly host: string;
  readonly port: number;
  readonly protocol: 'https' | 'http';
  /** Where this listener is reached from outside; default from host and port. */
  readonly publicOrigin?: string;
  /** http only: answer every request with 308 to this origin. */
  readonly redirectTo?: string;
  /** http only: serve routes in plaintext (tests, benchmarks, behind a TLS-terminating balancer). */
  readonly insecure?: boolean;
  /** The admin listener (admin API and dashboard): serves no routes; Host limited to loopback names by default (S12). */
  readonly admin: boolean;
  /** Host names this listener answers; any other Host gets 421 (DNS rebinding). */
  readonly allowedHosts?: readonly string[];
  readonly http2: boolean;
  readonly tls?: ListenerTlsConfig;
  readonly limits: ListenerLimits;
}

export interface TargetConfig {
  readonly url: string;
  readonly weight: number;
}

export interface UpstreamTlsConfig {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly serverName?: string;
}

export interface HealthConfig {
  readonly active?: {
    readonly path: string;
    readonly intervalMs: number;
    readonly timeoutMs: number;
    readonly healthyThreshold: number;
    readonly unhealthyThreshold: number;
    readonly expectStatus: readonly number[];
  };
  readonly passive: {
    /** Consecutive connection failures or 5xx that take a target out. */
    readonly unhealthyThreshold: number;
    /** How long a passively ejected target stays out before it is tried again. */
    readonly ejectMs: number;
  };
}

export interface CircuitBreakerConfig {
  /** Failure ratio over the window that opens the circuit. */
  readonly failureRatio: number;
  readonly minimumRequests: number;
  readonly windowMs: number;
  readonly openMs: number;
  readonly halfOpenRequests: number;
}

export interface UpstreamConfig {
  readonly id: string;
  /** Stage settings for every route to this upstream (between `defaults` and the route's own). */
  readonly defaults?: Readonly<Record<string, unknown>>;
  readonly targets: readonly TargetConfig[];
  readonly tls?: UpstreamTlsConfig;
  readonly timeouts: { readonly connectMs: number; readonly headersMs: number; readonly bodyMs: number };
  readonly retries: { readonly attempts: number; readonly backoffMs: number };
  readonly health: HealthConfig;
  readonly circuitBreaker: CircuitBreakerConfig;
  readonly pool: { readonly connections: number; readonly keepAliveTimeoutMs: number };
  /** At most this many requests in flight to the upstream; more wait (bounded) or get 503. */
  readonly concurrency?: UpstreamConcurrency;
  readonly maxResponseBytes: number;
  readonly openapi?: { readonly document: string; readonly basePath: string };
}

export interface RouteConfig {
  readonly id: string;
  readonly listeners?: readonly string[];
  readonly host?: string;
  readonly path: string;
  readonly methods: readonly string[];
  readonly upstream?: string;
  /** Prefix removed before the request goes upstream. */
  readonly stripPrefix?: string;
  readonly websocket: boolean;
  readonly requireClientCertificate: boolean;
  /** Per-stage settings (merged over `defaults.<stage>`). */
  readonly [stage: string]: unknown;
}

export interface RootConfig {
  readonly dataDir: string;
  readonly masterKey?: SecretRef;
  readonly trustedProxies: readonly string[];
  /** The one header the trusted proxies set; the other one is never read (S5). */
  readonly forwardedHeader: 'x-forwarded-for' | 'forwarded';
  readonly identity: { readonly issuer: string; readonly lifetimeSeconds: number };
  readonly logging: { readonly level: string; readonly redact: readonly string[] };
  readonly shutdown: { readonly graceMs: number };
  /** Where users, clients, API keys, the deny-list and OIDC artefacts live (src/store/config.ts). */
  readonly store: StoreConfig;
  /** Who issues the credentials the gateway trusts (src/stages/authn/config.ts). */
  readonly authentication: AuthenticationConfig;
  /** Where rate-limit counters live (memory, or Redis shared by every instance). */
  readonly rateLimit: RateLimitSettings;
  /** The built-in authorization server (src/auth-server), when configured. */
  readonly authServer?: AuthServerConfig;
  /** The access policy (src/stages/authz/config.ts): permissions, roles, rules. */
  readonly authorization?: AuthorizationConfig;
  readonly listeners: readonly ListenerConfig[];
  readonly upstreams: readonly UpstreamConfig[];
  readonly routes: readonly RouteConfig[];
  readonly defaults: Readonly<Record<string, unknown>>;
}
