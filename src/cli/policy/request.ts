/**
 * Which route a request reaches, found as the gateway finds it: hygiene's inspection first (the
 * one path normalisation: `//`, dot segments, percent-decoding; `%2F`, `;` and `?_method=` refused),
 * then each listener's route table (src/core/route-table.ts: case-sensitive, no trailing-slash
 * folding, HEAD follows GET). Listeners are tried in config order; the first whose table matches
 * answers.
 */
import type { RootConfig, RouteConfig } from '../../config/types.ts';
import { mergeStageConfig } from '../../config/merge.ts';
import { servesRoutes } from '../../config/semantic.ts';
import { RouteTable } from '../../core/route-table.ts';
import { GatewayError } from '../../errors/problem.ts';
import { hygieneStage, inspect, hostname, type HygieneConfig } from '../../stages/hygiene/index.ts';

export interface RequestQuestion {
  readonly method: string;
  /** As sent: not yet normalised. */
  readonly path: string;
  /** Raw query string, without '?'. */
  readonly query?: string;
  /** Host header (default: the listener's public origin host, else localhost). */
  readonly host?: string;
}

export type MatchResult =
  | { readonly ok: false; readonly stage: 'hygiene' | 'route'; readonly error: GatewayError; readonly path: string | undefined }
  | {
    readonly ok: true;
    readonly route: RouteConfig;
    readonly listener: string;
    readonly host: string;
    /** The normalised path. */
    readonly path: string;
    readonly query: string;
    readonly params: Readonly<Record<string, string>>;
  };

interface ListenerTable {
  readonly name: string;
  readonly defaultHost: string;
  readonly table: RouteTable<RouteConfig>;
}

export class RequestMatcher {
  readonly #tables: ListenerTable[] = [];
  readonly #hygiene: HygieneConfig;

  constructor(root: RootConfig) {
    this.#hygiene = mergeStageConfig(hygieneStage.defaults, root.defaults.hygiene);
    for (const l of root.listeners) {
      const named = root.routes.filter((r) => (r.listeners ? r.listeners.includes(l.name) : servesRoutes(l)));
      if (!named.length) continue;
      const table = new RouteTable<RouteConfig>();
      for (const r of named) table.add(r, { path: r.path, methods: r.methods, host: r.host });
      const defaultHost = l.publicOrigin ? new URL(l.publicOrigin).host : 'localhost';
      this.#tables.push({ name: l.name, defaultHost, table });
    }
  }

  match(q: RequestQuestion): MatchResult {
    let allow: string[] | undefined;
    let normalised: string | undefined;
    const url = q.query ? `${q.path}?${q.query}` : q.path;
    const tables = this.#tables.length ? this.#tables : [{ name: '', defaultHost: 'localhost', table: new RouteTable<RouteConfig>() }];
    for (const t of tables) {
      const host = q.host ?? t.defaultHost;
      const inspected = inspect({ method: q.method, url, headers: { host }, rawHeaders: ['Host', host], httpVersion: '1.1' }, this.#hygiene);
      if (inspected instanceof GatewayError) return { ok: false, stage: 'hygiene', error: inspected, path: undefined };
      normalised = inspected.path;
      const found = t.table.find(q.method, hostname(inspected.host), inspected.path);
      if (found.kind === 'match') {
        return { ok: true, route: found.match.route, listener: t.name, host: inspected.host, path: inspected.path, query: inspected.query, params: found.match.params };
      }
      if (found.kind === 'method') allow ??= found.allow;
    }
    const error = allow
      ? new GatewayError('RAMPART_ROUTE_METHOD_NOT_ALLOWED', { headers: { allow: allow.join(', ') } })
      : new GatewayError('RAMPART_ROUTE_NOT_FOUND');
    return { ok: false, stage: 'route', error, path: normalised };
  }
}
