/**
 * Compiles a validated config into a generation: per listener a route table and pre-route stages,
 * per route its chain of compiled stages in the fixed order. Done once per config; requests only
 * look things up. A failure leaves the serving generation untouched.
 */
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/load.ts';
import { mergeStageConfig } from '../config/merge.ts';
import type { ListenerConfig, RouteConfig, UpstreamConfig } from '../config/types.ts';
import { hygieneStage, type HygieneConfig, type Inspected, type RawRequest } from '../stages/hygiene/index.ts';
import { requestIdStage, type RequestIds } from '../stages/request-id/index.ts';
import { headersStage, type EgressHeaders } from '../stages/headers/index.ts';
import type { GatewayError } from '../errors/problem.ts';
import type { IncomingHttpHeaders } from 'node:http';
import type { Duplex } from 'node:stream';
import { IpSet } from './net/cidr.ts';
import { servesRoutes } from '../config/semantic.ts';
import { RouteTable } from './route-table.ts';
import { PRE_ROUTE, REQUEST_PHASE, type Stage, type StageModule } from './stage.ts';
import type { CompileEnv } from './compile-env.ts';
import { DEFAULT_JSON_LIMITS, type JsonLimits } from './body/json.ts';
import type { Keeper } from './keeper.ts';
import type { Store } from '../store/types.ts';
import type { AuthnServices } from './authn-port.ts';
import type { Keyring } from '../secrets/keyring.ts';
import type { IdentityTokens } from './identity-port.ts';
import type { RouteInfo } from './context.ts';
import type { RequestContext } from './context.ts';

export interface CompiledRoute {
  readonly info: RouteInfo;
  readonly config: RouteConfig;
  readonly upstream: UpstreamConfig | undefined;
  /** Route-level stages in pipeline order (pre-route stages excluded). */
  readonly stages: readonly Stage[];
  readonly maxBodyBytes: number;
  /** Structure limits of ctx.json() on this route (the validation stage's `limits`). */
  readonly jsonLimits: JsonLimits;
  readonly egress: EgressHeaders;
  readonly websocket: boolean;
  readonly requireClientCertificate: boolean;
  readonly upgrade: ((ctx: RequestContext, socket: Duplex, head: Buffer) => Promise<void>) | undefined;
}

export interface CompiledListener {
  readonly config: ListenerConfig;
  readonly table: RouteTable<CompiledRoute>;
  readonly ids: { resolve(h: IncomingHttpHeaders): RequestIds; readonly header: string };
  readonly hygiene: { inspect(raw: RawRequest): Inspected | GatewayError; readonly config: HygieneConfig };
  readonly egress: EgressHeaders;
  /** Host names (lower case, no port) this listener answers; undefined: any. */
  readonly allowedHosts: ReadonlySet<string> | undefined;
}

export interface Generation {
  readonly id: number;
  readonly loaded: LoadedConfig;
  readonly listeners: ReadonlyMap<string, CompiledListener>;
  readonly trustedProxies: IpSet;
  readonly forwardedHeader: 'x-forwarded-for' | 'forwarded';
  readonly stages: readonly Stage[];
}

export interface CompileServices {
  readonly logger: Logger;
  readonly keeper: Keeper;
  readonly identity: IdentityTokens;
  readonly dataDir: string;
  readonly dev: boolean;
  /** The opened store; absent in `rampart check`. */
  readonly store?: Store;
  readonly authn?: AuthnServices;
  readonly keyring?: Keyring;
  /** Default Date.now. */
  readonly clock?: () => number;
}

const ORDER = new Map<string, number>(REQUEST_PHASE.map((n, i) => [n, i]));

const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '[::1]'];

/**
 * Host names a listener answers when `allowedHosts` is not set. The admin listener: loopback names
 * (S12, DNS rebinding). A listener with a configured publicOrigin: that host, the hosts its routes
 * name, and loopback names in dev mode — so a forged Host never reaches an upstream as
 * X-Forwarded-Host (host-header poisoning of reset links and redirects). Otherwise any host.
 */
function defaultAllowedHosts(l: ListenerConfig, routes: readonly RouteConfig[], authHost?: string): string[] | undefined {
  if (l.admin) return LOOPBACK_NAMES;
  if (!l.publicOrigin) return undefined;
  const own = new URL(l.publicOrigin).hostname;
  const hosts = new Set([own]);
  for (const r of routes) if (r.host && (!r.listeners || r.listeners.includes(l.name))) hosts.add(r.host.toLowerCase().replace(/:\d+$/, ''));
  if (l.tls?.dev) for (const h of LOOPBACK_NAMES) hosts.add(h);
  // S1: the authorization server answers on its own host (its issuer's) on the same listeners.
  if (authHost) hosts.add(authHost);
  return [...hosts];
}

export async function compileGeneration(loaded: LoadedConfig, stages: readonly StageModule[], services: CompileServices, id: number): Promise<Generation> {
  const root = loaded.config;
  const upstreams = new Map(root.upstreams.map((u) => [u.id, u]));
  const all: Stage[] = [];
  const env = (route: RouteConfig | undefined, upstream: UpstreamConfig | undefined): CompileEnv => ({
    root, route, upstream, logger: services.logger, keeper: services.keeper, identity: services.identity,
    generation: id, dataDir: services.dataDir, dev: services.dev, ...(services.store ? { store: services.store } : {}), ...(services.keyring ? { keyring: services.keyring } : {}), ...(services.authn ? { authn: services.authn } : {}), baseDir: loaded.baseDir,
    clock: services.clock ?? Date.now,
  });
  const listenerEgress = headersStage.compile(mergeStageConfig(headersStage.defaults, root.defaults.headers), env(undefined, undefined)) as Stage & { egress: EgressHeaders };
  const ids = requestIdStage.compile(mergeStageConfig(requestIdStage.defaults, root.defaults['request-id']), env(undefined, undefined)) as ReturnType<typeof requestIdStage.compile> & CompiledListener['ids'];
  const hygiene = hygieneStage.compile(mergeStageConfig(hygieneStage.defaults, root.defaults.hygiene), env(undefined, undefined)) as CompiledListener['hygiene'] & Stage;

  const routeModules = stages.filter((s) => !PRE_ROUTE.has(s.name) && ORDER.has(s.name)).sort((a, b) => (ORDER.get(a.name) ?? 0) - (ORDER.get(b.name) ?? 0));
  const listeners = new Map<string, CompiledListener>();
  for (const l of root.listeners) {
    const hosts = l.allowedHosts ?? defaultAllowedHosts(l, root.routes, root.authServer ? new URL(root.authServer.issuer).hostname.toLowerCase() : undefined);
    listeners.set(l.name, {
      config: l, table: new RouteTable<CompiledRoute>(), ids, hygiene, egress: listenerEgress.egress,
      allowedHosts: hosts ? new Set(hosts.map((h) => h.toLowerCase())) : undefined,
    });
  }
  for (const r of root.routes) {
    const upstream = r.upstream ? upstreams.get(r.upstream) : undefined;
    const e = env(r, upstream);
    const chain: Stage[] = [];
    for (const m of routeModules) {
      const compiled = await m.compile(mergeStageConfig(m.defaults, root.defaults[m.name], upstream?.defaults?.[m.name], r[m.name]), e);
      chain.push(compiled);
      all.push(compiled);
    }
    const routeHygiene = mergeStageConfig(hygieneStage.defaults, root.defaults.hygiene, upstream?.defaults?.hygiene, r.hygiene);
    const egress = (headersStage.compile(mergeStageConfig(headersStage.defaults, root.defaults.headers, upstream?.defaults?.headers, r.headers), e) as Stage & { egress: EgressHeaders }).egress;
    const validation = chain.find((s) => s.name === 'validation') as (Stage & { jsonLimits?: JsonLimits }) | undefined;
    const proxy = chain.find((s) => s.name === 'proxy') as (Stage & { upgrade?: CompiledRoute['upgrade'] }) | undefined;
    const compiled: CompiledRoute = {
      info: { id: r.id, path: r.path, upstream: r.upstream },
      config: r,
      upstream,
      stages: chain.filter((s) => s.onRequest || s.onResponse || s.onLog),
      maxBodyBytes: routeHygiene.maxBodyBytes,
      jsonLimits: validation?.jsonLimits ?? DEFAULT_JSON_LIMITS,
      egress,
      websocket: r.websocket,
      requireClientCertificate: r.requireClientCertificate,
      upgrade: proxy?.upgrade?.bind(proxy),
    };
    const names = r.listeners ?? root.listeners.filter(servesRoutes).map((l) => l.name);
    for (const n of names) listeners.get(n)?.table.add(compiled, { path: r.path, methods: r.methods, host: r.host });
  }
  return { id, loaded, listeners, trustedProxies: new IpSet(root.trustedProxies), forwardedHeader: root.forwardedHeader, stages: all };
}
