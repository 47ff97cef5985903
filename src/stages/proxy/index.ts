/**
 * proxy: the last request-phase stage. Forwards the request to a healthy target of the route's
 * upstream (undici pools kept across hot reloads, weighted round-robin, active and passive health
 * checks, a circuit breaker, timeouts, retries of idempotent requests), streams both bodies, and
 * passes WebSocket upgrades through. docs/proxy.md describes the behaviour and every setting.
 */
import type { Duplex } from 'node:stream';
import type { RequestContext } from '../../core/context.ts';
import { deny, type Stage, type StageModule } from '../../core/stage.ts';
import { proxyDefaults, proxySchema, type ProxyConfig } from './config.ts';
import { forward } from './forward.ts';
import type { ProxyNote, RouteProxy } from './route-proxy.ts';
import { proxyUpgrade } from './upgrade.ts';
import { sharedUpstream } from './upstream.ts';
import { bodyOverride } from './override.ts';
import { ConcurrencyLimit } from '../../ratelimit/concurrency.ts';
import { gated } from './concurrency-gate.ts';

export type { ProxyConfig } from './config.ts';

export interface ProxyStage extends Stage {
  readonly name: 'proxy';
  /**
   * For routes with `websocket: true`: opens the upgrade to a healthy target, writes the
   * upstream's 101 to the client and pipes both ways; resolves once the tunnel is up (or the client
   * went away, its socket destroyed). Anything but a 101 rejects with a GatewayError before a byte
   * is written, for the caller to answer on the socket as problem+json and close it.
   */
  upgrade(ctx: RequestContext, clientSocket: Duplex, head: Buffer): Promise<void>;
}

/** One warning per config generation and message (the first route names it; the rest at debug). */
const warned = new WeakMap<object, Set<string>>();
function warnOnce(root: object, log: { warn(msg: string): void; debug(msg: string): void }, message: string): void {
  let seen = warned.get(root);
  if (!seen) warned.set(root, (seen = new Set()));
  if (seen.has(message)) return log.debug(message);
  seen.add(message);
  log.warn(`${message} (this route and any other that sets it)`);
}

export const proxyStage: StageModule<ProxyConfig> = {
  name: 'proxy',
  schema: proxySchema,
  defaults: proxyDefaults,
  compile(config, env): ProxyStage {
    const route = env.route;
    const upstream = env.upstream;
    if (route === undefined || upstream === undefined) {
      throw new Error(`proxy: route ${route?.id ?? '(none)'} has no upstream to forward to`);
    }
    const log = env.logger.child({ stage: 'proxy', route: route.id, upstream: upstream.id });
    // Secure defaults are the defaults; a relaxation is loud at start-up (STYLE habit 9).
    if (config.forwardCredentials) warnOnce(env.root, log, 'forwardCredentials: client Authorization is sent upstream');
    if (config.passUpstreamErrors.length) warnOnce(env.root, log, `passUpstreamErrors: upstream ${config.passUpstreamErrors.join(' and ')} bodies reach clients verbatim`);
    const rp: RouteProxy = {
      routeId: route.id,
      config,
      upstream: sharedUpstream(env, upstream),
      stripPrefix: route.stripPrefix,
      websocket: route.websocket,
      headersMs: config.timeouts?.headersMs ?? upstream.timeouts.headersMs,
      bodyMs: config.timeouts?.bodyMs ?? upstream.timeouts.bodyMs,
      identity: env.identity,
      generation: env.generation,
      log,
      notes: new WeakMap<RequestContext, ProxyNote>(),
    };
    // Per-upstream concurrency: one limit per upstream, shared by its routes and kept across
    // reloads (requests in flight under the old config release into the same counter).
    const concurrency = upstream.concurrency;
    const limit = concurrency && env.keeper.keep('proxy.concurrency', upstream.id, 'limit', () => new ConcurrencyLimit(concurrency));
    if (limit && concurrency) limit.settings = concurrency;
    return {
      name: 'proxy',
      onRequest(ctx) {
        const send = () => (limit ? gated(ctx, limit, upstream.id, route.id, () => forward(ctx, rp)) : forward(ctx, rp));
        // Only a POST's body can carry an override (override.ts): other requests go straight on,
        // without an extra promise and microtask turn.
        if (ctx.method !== 'POST') return send();
        return bodyOverride(ctx).then((override) => (override ? deny(override) : send()));
      },
      upgrade: (ctx, socket, head) => proxyUpgrade(ctx, socket, head, rp),
      onLog(ctx, entry) {
        const note = rp.notes.get(ctx);
        if (note === undefined) return;
        entry.upstreamTarget = note.target;
        entry.upstreamAttempts = note.attempts;
      },
      // Pools, health checkers and breakers belong to the keeper: it disposes them when a reload
      // drops them, not when this generation retires.
    };
  },
};
