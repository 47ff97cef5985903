/**
 * quota: limits per principal, after authorization (DESIGN.md pipeline): per user, OAuth client,
 * API key, any principal, IP, or a header combined with the IP or the principal (S5). Consumer
 * overrides (`consumers`) replace the route's limits for a given principal (issuer + kind +
 * subject, S3) or role — the last layer of defaults → upstream → route → consumer.
 *
 * Until a request is authenticated its principal is anonymous: `by: user|client|key|principal`
 * then falls back to the client IP (`fallback: ip`, the default) or skips the limit.
 */
import type { Stage, StageModule } from '../../core/stage.ts';
import type { Principal } from '../../core/principal.ts';
import { compileLimiter, compileSet } from '../../ratelimit/compile-limiter.ts';
import type { LimitSet } from '../../ratelimit/limiter.ts';
import { checkLimits, limitSchema, type LimitConfig } from '../../ratelimit/policy.ts';
import { checkLimiter, limiterDefaults, limiterProperties, type LimiterConfig } from '../../ratelimit/stage-config.ts';

export interface ConsumerLimits {
  /** `user:alice`, `client:ID` or `key:ID` (DESIGN "CLI"), with its issuer (S3). */
  readonly subject?: string;
  readonly issuer?: string;
  /** Or every principal holding this role (plans, tiers). */
  readonly role?: string;
  readonly limits: readonly LimitConfig[];
}

export interface QuotaConfig extends LimiterConfig {
  readonly consumers: readonly ConsumerLimits[];
}

const DIMENSIONS = ['ip', 'user', 'client', 'key', 'principal', 'header'] as const;
const SUBJECT = /^(user|client|key):(.{1,256})$/;

export const quotaStage: StageModule<QuotaConfig> = {
  name: 'quota',
  schema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      ...limiterProperties(DIMENSIONS),
      consumers: {
        type: 'array',
        maxItems: 10_000,
        items: {
          type: 'object',
          additionalProperties: false,
          required: ['limits'],
          properties: {
            subject: { type: 'string', pattern: '^(user|client|key):.{1,256}$', 'x-message': 'must be user:NAME, client:ID or key:ID' },
            issuer: { type: 'string', minLength: 1, maxLength: 2048 },
            role: { type: 'string', minLength: 1, maxLength: 128 },
            limits: { type: 'array', minItems: 1, maxItems: 16, items: limitSchema(DIMENSIONS) },
          },
        },
      },
    },
  },
  defaults: Object.freeze({ ...limiterDefaults, consumers: Object.freeze([]) as readonly ConsumerLimits[] }),
  check(config) {
    const out = checkLimiter(config);
    config.consumers.forEach((c, i) => {
      const at = (k: string, message: string) => out.push({ path: `consumers.${i}${k ? `.${k}` : ''}`, message });
      if ((c.subject === undefined) === (c.role === undefined)) at('', 'needs either subject (with issuer) or role');
      if (c.subject !== undefined && c.issuer === undefined) at('issuer', 'a subject is matched with its issuer (S3): add issuer');
      if (c.role !== undefined && c.issuer !== undefined) at('issuer', 'only with subject');
      for (const p of checkLimits(c.limits)) out.push({ path: `consumers.${i}.${p.path}`, message: p.message });
    });
    return out;
  },
  async compile(config, env): Promise<Stage> {
    const prefix = env.root.rateLimit.keyPrefix;
    const consumers = config.consumers.map((c) => ({ match: consumerMatch(c), set: compileSet('quota', prefix, c.limits) }));
    const select = (base: LimitSet) => (ctx: { principal: Principal }) => {
      if (consumers.length === 0 || ctx.principal.kind === 'anonymous') return base;
      for (const c of consumers) if (c.match(ctx.principal)) return c.set;
      return base;
    };
    const extra = config.consumers.map((c, i) => ({ where: `${env.route ? `route ${env.route.id}` : 'defaults'} consumers[${i}]`, limits: c.limits }));
    const limiter = await compileLimiter('quota', config, env, select, extra);
    if (!limiter) return { name: 'quota' };
    return {
      name: 'quota',
      mode: config.mode,
      onRequest: (ctx) => limiter.check(ctx),
      onResponse: (ctx, response) => limiter.onResponse(ctx, response),
      onLog: (ctx, entry) => limiter.onLog(ctx, entry),
    };
  },
};

/** S3: a subject matches only with its issuer and kind; a role matches any principal holding it. */
export function consumerMatch(c: ConsumerLimits): (p: Principal) => boolean {
  if (c.role !== undefined) {
    const role = c.role;
    return (p) => p.roles.includes(role);
  }
  const m = SUBJECT.exec(c.subject ?? '');
  const kind = m?.[1];
  const subject = m?.[2];
  return (p) => p.kind === kind && p.subject === subject && p.issuer === c.issuer;
}
