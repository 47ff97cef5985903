/**
 * What the throttle and the quota stages share: a compiled set of limits checked against the
 * store for one request, with the answer as a decision (next, a wait in the queue, 429, or 503
 * when the store cannot answer) and the RateLimit fields for the response.
 */
import type { Logger } from 'pino';
import type { RequestContext } from '../core/context.ts';
import { deny, next, type Decision, type GatewayResponse, type ResponseDecision, type StageMode } from '../core/stage.ts';
import { GatewayError } from '../errors/problem.ts';
import type { ErrorCode } from '../errors/catalog.ts';
import { publishSecurityEvent } from '../observe/events.ts';
import { appendListField, policyField, retryAfter, stateField, type LimitState } from './headers.ts';
import { limitKey } from './keys.ts';
import type { CompiledLimit } from './policy.ts';
import type { DelayQueue, Ticket } from './queue.ts';
import { StoreError, type ConsumeItem, type ConsumeResult, type RateLimitStore } from './store.ts';
import type { LimiterCounters } from './stats.ts';

export interface LimitSet {
  readonly limits: readonly CompiledLimit[];
  /** `${keyPrefix}:rl:${stage}:${id}:` per limit. */
  readonly prefixes: readonly string[];
  /** RateLimit-Policy when every limit applies. */
  readonly policy: string;
}

export interface LimiterOptions {
  readonly stage: 'throttle' | 'quota';
  readonly routeId: string | undefined;
  readonly mode: StageMode;
  readonly onStoreError: 'deny' | 'allow';
  readonly headers: 'all' | 'denied' | 'none';
  readonly store: RateLimitStore;
  readonly queue: DelayQueue | undefined;
  readonly counters: LimiterCounters;
  readonly log: Logger;
  /** Which limit set applies to this request (the quota's consumer overrides). */
  readonly select: (ctx: RequestContext) => LimitSet;
}

/** What the response phase needs and the access log shows. */
export interface LimitNote {
  decision: 'allowed' | 'queued' | 'rejected' | 'store-error';
  limit?: string;
  waitedMs?: number;
  states?: readonly LimitState[];
  set?: LimitSet | undefined;
}

export function limitSet(stage: string, keyPrefix: string, limits: readonly CompiledLimit[]): LimitSet {
  return { limits, prefixes: limits.map((l) => `${keyPrefix}:rl:${stage}:${l.id}:`), policy: policyField(limits) };
}

export class Limiter {
  readonly #o: LimiterOptions;
  readonly notes = new WeakMap<RequestContext, LimitNote>();

  constructor(o: LimiterOptions) {
    this.#o = o;
  }

  check(ctx: RequestContext): Decision | Promise<Decision> {
    const o = this.#o;
    const set = o.select(ctx);
    const items: ConsumeItem[] = [];
    const applied: CompiledLimit[] = [];
    for (let i = 0; i < set.limits.length; i++) {
      const l = set.limits[i] as CompiledLimit;
      const k = limitKey(l, ctx);
      if (k === undefined) continue;
      items.push({ key: (set.prefixes[i] as string) + k, emissionMs: l.emissionMs, burst: l.burst });
      applied.push(l);
    }
    if (items.length === 0) return next();
    o.counters.checked++;
    // Queue mode: a place is taken first, so that a reservation is only made when it can wait.
    const ticket = o.queue && o.mode === 'enforce' ? o.queue.take((items[0] as ConsumeItem).key) : undefined;
    const maxWait = ticket && o.queue ? o.queue.settings.maxWaitMs : 0;
    let result: ConsumeResult | Promise<ConsumeResult>;
    try {
      result = o.store.consume(items, maxWait);
    } catch (err) {
      return this.#storeFailed(ctx, err, ticket);
    }
    if (result instanceof Promise) {
      return result.then(
        (r) => this.#decide(ctx, r, applied, set, ticket),
        (err: unknown) => this.#storeFailed(ctx, err, ticket),
      );
    }
    return this.#decide(ctx, result, applied, set, ticket);
  }

  #decide(ctx: RequestContext, r: ConsumeResult, applied: readonly CompiledLimit[], set: LimitSet, ticket: Ticket | undefined): Decision | Promise<Decision> {
    const o = this.#o;
    const states: LimitState[] = r.items.map((s, i) => ({ limit: applied[i] as CompiledLimit, remaining: s.remaining, resetMs: s.resetMs }));
    const note: LimitNote = { decision: 'allowed', states, set: applied.length === set.limits.length ? set : undefined };
    this.notes.set(ctx, note);
    if (r.allowed && r.waitMs <= 0) {
      if (ticket) o.queue?.release(ticket);
      o.counters.allowed++;
      return next();
    }
    if (r.allowed && ticket && o.queue) {
      o.counters.queued++;
      note.decision = 'queued';
      note.waitedMs = Math.round(r.waitMs);
      return o.queue.wait(ticket, r.waitMs, ctx.signal).then((ok) => {
        if (ok) {
          o.counters.allowed++;
          return next();
        }
        return deny(new GatewayError('RAMPART_HYGIENE_BAD_REQUEST', { reason: 'client went away while queued' }));
      });
    }
    if (ticket) o.queue?.release(ticket);
    const denied = applied[r.denied] as CompiledLimit | undefined;
    const retryMs = r.items[r.denied]?.retryAfterMs ?? 1000;
    // Queue mode without a free place for this key: the queue is full (429 all the same).
    const code: ErrorCode = o.queue && o.mode === 'enforce' && !ticket ? 'RAMPART_RATELIMIT_QUEUE_FULL' : 'RAMPART_RATELIMIT_EXCEEDED';
    note.decision = 'rejected';
    if (denied) note.limit = denied.id;
    if (o.mode === 'shadow') o.counters.shadowRejected++;
    else if (code === 'RAMPART_RATELIMIT_QUEUE_FULL') o.counters.queueRejected++;
    else o.counters.rejected++;
    this.#event(ctx, code === 'RAMPART_RATELIMIT_QUEUE_FULL' ? 'ratelimit.queue_full' : 'ratelimit.exceeded', code, 429, denied?.id);
    // RFC 6585 §4: 429 Too Many Requests, with Retry-After (RFC 9110 §10.2.3); RateLimit fields
    // per draft-ietf-httpapi-ratelimit-headers §3–4.
    const headers: Record<string, string> = { 'retry-after': retryAfter(retryMs) };
    if (o.headers !== 'none') {
      headers['ratelimit-policy'] = note.set?.policy ?? policyField(applied);
      headers['ratelimit'] = stateField(states);
    }
    return deny(new GatewayError(code, {
      reason: `${o.stage} limit ${denied?.id ?? '?'} exceeded`,
      detail: `Too many requests: limit "${denied?.id ?? ''}". Retry after ${headers['retry-after']} s.`,
      headers,
    }));
  }

  #storeFailed(ctx: RequestContext, err: unknown, ticket: Ticket | undefined): Decision {
    const o = this.#o;
    if (ticket) o.queue?.release(ticket);
    o.counters.storeErrors++;
    this.notes.set(ctx, { decision: 'store-error' });
    const message = err instanceof StoreError ? err.message : err instanceof Error ? err.message : String(err);
    if (!(err instanceof StoreError)) o.log.error({ err, requestId: ctx.requestId }, 'unexpected error in the rate limiter');
    if (o.onStoreError === 'allow') {
      o.counters.storeErrorsAllowed++;
      return next();
    }
    this.#event(ctx, 'ratelimit.store_unavailable', 'RAMPART_RATELIMIT_STORE_UNAVAILABLE', 503, undefined);
    // DESIGN "Fail closed": a store that is down denies, logs and counts.
    return deny(new GatewayError('RAMPART_RATELIMIT_STORE_UNAVAILABLE', { reason: `${o.stage}: ${message}`.slice(0, 300), headers: { 'retry-after': '2' } }));
  }

  #event(ctx: RequestContext, action: string, code: ErrorCode, status: number, ruleId: string | undefined): void {
    const o = this.#o;
    publishSecurityEvent({
      'event.kind': 'event',
      'event.category': ['web'],
      'event.action': action,
      'event.outcome': 'failure',
      'source.ip': ctx.clientIp,
      'http.request.method': ctx.method,
      'url.path': ctx.path,
      'http.response.status_code': status,
      'trace.id': ctx.traceId,
      'rampart.code': code,
      'rampart.mode': o.mode,
      ...(ruleId ? { 'rule.id': ruleId } : {}),
      ...(o.routeId ? { 'rampart.route': o.routeId } : {}),
      ...(ctx.principal.kind !== 'anonymous' ? { 'user.id': `${ctx.principal.kind}:${ctx.principal.subject}` } : {}),
    });
  }

  /** Response phase: the RateLimit fields on an allowed answer (`headers: all`). */
  onResponse(ctx: RequestContext, response: GatewayResponse): ResponseDecision {
    const o = this.#o;
    if (o.headers !== 'all' || o.mode === 'shadow') return next();
    const note = this.notes.get(ctx);
    if (!note?.states || note.decision === 'rejected') return next();
    appendListField(response.headers, 'ratelimit-policy', note.set?.policy ?? policyField(note.states.map((s) => s.limit)));
    appendListField(response.headers, 'ratelimit', stateField(note.states));
    return next();
  }

  onLog(ctx: RequestContext, entry: Record<string, unknown>): void {
    const note = this.notes.get(ctx);
    if (!note) return;
    const out: Record<string, unknown> = { decision: note.decision };
    if (note.limit) out.limit = note.limit;
    if (note.waitedMs !== undefined) out.waitedMs = note.waitedMs;
    entry[this.#o.stage] = out;
  }
}
