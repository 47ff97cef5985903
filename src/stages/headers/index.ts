/**
 * headers: security response headers on every HTTPS response, the gateway's own errors included
 * (egress). HSTS per RFC 6797 — never on plain HTTP (§7.2); nosniff; frame protection;
 * Referrer-Policy; Server and X-Powered-By removed.
 */
import type { Stage, StageModule } from '../../core/stage.ts';

export interface HeadersConfig {
  readonly hsts: { readonly maxAgeSeconds: number; readonly includeSubDomains: boolean; readonly preload: boolean };
  readonly frameOptions: 'DENY' | 'SAMEORIGIN';
  readonly referrerPolicy: string;
  readonly contentSecurityPolicy: string;
}

export interface EgressHeaders {
  /** Applies the headers to a response about to be written. */
  apply(headers: Record<string, string | string[] | number | undefined>, https: boolean, gatewayOwn: boolean): void;
}

const ONE_YEAR = 31_536_000;
const REMOVED = ['server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version'];

export function compileHeaders(config: HeadersConfig): EgressHeaders {
  let hsts = `max-age=${config.hsts.maxAgeSeconds}`;
  if (config.hsts.includeSubDomains) hsts += '; includeSubDomains';
  if (config.hsts.preload) hsts += '; preload';
  return {
    apply(headers, https, gatewayOwn) {
      for (const h of REMOVED) delete headers[h];
      if (https) headers['strict-transport-security'] = hsts;
      headers['x-content-type-options'] = 'nosniff';
      headers['x-frame-options'] ??= config.frameOptions;
      headers['referrer-policy'] ??= config.referrerPolicy;
      if (gatewayOwn) {
        // The gateway's own answers are data, never a document to render or cache.
        headers['content-security-policy'] = config.contentSecurityPolicy;
        headers['cache-control'] = 'no-store';
      }
    },
  };
}

export const headersStage: StageModule<HeadersConfig> = {
  name: 'headers',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      hsts: {
        type: 'object',
        additionalProperties: false,
        properties: {
          maxAgeSeconds: { type: 'integer', minimum: ONE_YEAR, maximum: 2 * ONE_YEAR },
          includeSubDomains: { type: 'boolean' },
          preload: { type: 'boolean' },
        },
      },
      frameOptions: { enum: ['DENY', 'SAMEORIGIN'] },
      referrerPolicy: { enum: ['no-referrer', 'same-origin', 'strict-origin', 'strict-origin-when-cross-origin'] },
      contentSecurityPolicy: { type: 'string', minLength: 1 },
    },
  },
  defaults: {
    hsts: { maxAgeSeconds: ONE_YEAR, includeSubDomains: true, preload: false },
    frameOptions: 'DENY',
    referrerPolicy: 'no-referrer',
    contentSecurityPolicy: "default-src 'none'; frame-ancestors 'none'",
  },
  check(config) {
    return config.hsts.preload && (!config.hsts.includeSubDomains || config.hsts.maxAgeSeconds < ONE_YEAR)
      ? [{ path: 'hsts.preload', message: 'preload needs includeSubDomains and max-age of at least one year' }]
      : [];
  },
  compile(config): Stage & { egress: EgressHeaders } {
    return { name: 'headers', egress: compileHeaders(config) };
  },
};
