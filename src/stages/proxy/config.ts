/**
 * Route-level settings of the proxy stage. Upstream-level settings (targets, TLS, pool, health,
 * circuit breaker, retries, response cap) live on the upstream (`UpstreamConfig`); these only say
 * how one route forwards to it. Defaults are the secure ones; each relaxation is logged at compile.
 */
import type { JsonSchema } from '../../core/stage.ts';

export interface ProxyConfig {
  /**
   * Which upstream error bodies reach the client verbatim (S11). By default none: a 4xx body is
   * replaced by problem+json RAMPART_UPSTREAM_REJECTED, a 5xx body by RAMPART_UPSTREAM_ERROR, each
   * keeping the upstream's status.
   */
  readonly passUpstreamErrors: readonly ('4xx' | '5xx')[];
  /** false: Authorization and X-API-Key are not sent upstream (DESIGN "Identity to upstreams"). */
  readonly forwardCredentials: boolean;
  /** false: Host is the target's authority; true: the client's Host as checked by hygiene. */
  readonly preserveHost: boolean;
  /**
   * Per-route overrides of the upstream's header and body timeouts. The connect timeout belongs to
   * the connection pool, which routes share, so only the upstream sets it.
   */
  readonly timeouts?: { readonly headersMs?: number; readonly bodyMs?: number };
}

const ms = { type: 'integer', minimum: 100, maximum: 600_000 } as const;

/** Strict: unknown keys are errors; no `default` keywords (defaults are `proxyStage.defaults`). */
export const proxySchema: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    passUpstreamErrors: {
      type: 'array',
      items: { enum: ['4xx', '5xx'] },
      uniqueItems: true,
      maxItems: 2,
      description: 'Which upstream error bodies reach the client verbatim: [], [4xx], [4xx, 5xx].',
    },
    forwardCredentials: { type: 'boolean', description: 'Send Authorization upstream (X-API-Key never is).' },
    preserveHost: { type: 'boolean', description: "Send the client's Host instead of the target's." },
    timeouts: {
      type: 'object',
      additionalProperties: false,
      properties: {
        headersMs: { ...ms, description: 'Time allowed for the upstream response headers.' },
        bodyMs: { ...ms, description: 'Time allowed between two chunks of the upstream response body.' },
      },
    },
  },
};

export const proxyDefaults: ProxyConfig = Object.freeze({
  passUpstreamErrors: Object.freeze([]) as readonly ('4xx' | '5xx')[],
  forwardCredentials: false,
  preserveHost: false,
});
