/**
 * Checks the schema cannot express: references between sections, uniqueness, listener rules,
 * path templates, and each stage's own cross-field checks on its merged settings.
 */
import net from 'node:net';
import type { StageModule } from '../core/stage.ts';
import { mergeStageConfig } from './merge.ts';
import { parseCidr } from '../core/net/cidr.ts';
import type { RootConfig } from './types.ts';
import type { Segment } from './load.ts';
import { checkRateLimitSettings } from '../ratelimit/settings.ts';
import { checkStoreSettings } from '../store/config.ts';
import { checkAuthServer } from '../auth-server/config.ts';
import { checkAuthenticationSettings } from '../stages/authn/check.ts';
import { policyOf } from '../stages/authz/policy.ts';
import { hasClientAuth } from '../tls/entries.ts';

export interface SemanticIssue {
  readonly path: Segment[];
  readonly message: string;
  readonly severity?: 'error' | 'warning';
}

const TEMPLATE = /^\/(?:[A-Za-z0-9._~!$&'()+,;=:@-]+|\{[A-Za-z_][A-Za-z0-9_]*\}|\/)*(?:\*)?$/;

export function semanticChecks(config: RootConfig, stages: readonly StageModule[], _baseDir: string): SemanticIssue[] {
  const out: SemanticIssue[] = [];
  const err = (path: Segment[], message: string) => out.push({ path, message });
  const warn = (path: Segment[], message: string) => out.push({ path, message, severity: 'warning' });

  const listenerNames = new Map<string, number>();
  const ports = new Map<string, number>();
  config.listeners.forEach((l, i) => {
    if (listenerNames.has(l.name)) err(['listeners', i, 'name'], `duplicate listener name "${l.name}"`);
    listenerNames.set(l.name, i);
    const portKey = `${l.host}:${l.port}`;
    if (l.port !== 0 && ports.has(portKey)) err(['listeners', i, 'port'], `port ${l.port} on ${l.host} is already used by listeners[${ports.get(portKey)}]`);
    ports.set(portKey, i);
    if (net.isIP(l.host) === 0 && l.host !== 'localhost') err(['listeners', i, 'host'], 'must be an IP address to bind (or localhost)');
    if (l.admin && l.redirectTo) err(['listeners', i, 'admin'], 'the admin listener does not redirect');
    if (l.admin && !isLoopback(l.host)) warn(['listeners', i, 'host'], 'the admin listener binds a non-loopback address: keep it on a private network');
    if (l.protocol === 'https') {
      if (l.redirectTo) err(['listeners', i, 'redirectTo'], 'only a plain http listener redirects');
      if (l.insecure) err(['listeners', i, 'insecure'], 'only applies to a plain http listener');
      const tls = l.tls;
      if (!tls || (!tls.dev && !tls.certificates)) {
        err(['listeners', i], 'an https listener needs tls.certificates (or tls.dev: true for local development)');
      }
      if (tls?.dev && !tls.certificates && !isLoopback(l.host)) {
        err(['listeners', i, 'tls', 'dev'], `the development CA only serves loopback addresses, not ${l.host}`);
      }
    } else {
      if (l.tls) err(['listeners', i, 'tls'], 'a plain http listener has no TLS settings');
      if (l.redirectTo && l.insecure) err(['listeners', i, 'insecure'], 'a redirect listener serves no routes');
      if (!l.redirectTo && !l.insecure) {
        err(['listeners', i], 'a plain http listener either redirects (redirectTo: https://…) or serves routes with insecure: true');
      }
      if (l.insecure) warn(['listeners', i, 'insecure'], 'serves routes over plaintext HTTP: only behind a TLS-terminating balancer, for tests or benchmarks');
    }
  });

  const upstreamIds = new Map<string, number>();
  config.upstreams.forEach((u, i) => {
    if (upstreamIds.has(u.id)) err(['upstreams', i, 'id'], `duplicate upstream id "${u.id}"`);
    upstreamIds.set(u.id, i);
    if (u.tls && u.targets.some((t) => t.url.startsWith('http://'))) {
      err(['upstreams', i, 'tls'], 'tls settings need https:// targets');
    }
    if ((u.tls?.cert === undefined) !== (u.tls?.key === undefined)) err(['upstreams', i, 'tls'], 'cert and key go together');
  });

  config.trustedProxies.forEach((c, i) => {
    if (!parseCidr(c)) err(['trustedProxies', i], `"${c}" is not an IP address or CIDR range`);
  });

  const routeIds = new Map<string, number>();
  const seen = new Map<string, number>();
  const foldedSeen = new Map<string, number>();
  config.routes.forEach((r, i) => {
    if (routeIds.has(r.id)) err(['routes', i, 'id'], `duplicate route id "${r.id}"`);
    routeIds.set(r.id, i);
    if (!TEMPLATE.test(r.path) || r.path.includes('//')) {
      err(['routes', i, 'path'], 'must be a path template like /api/orders/{id} (a trailing * matches a prefix)');
    }
    const params = [...r.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
    if (new Set(params).size !== params.length) err(['routes', i, 'path'], 'a parameter name appears twice');
    if (r.upstream !== undefined && !upstreamIds.has(r.upstream)) err(['routes', i, 'upstream'], `unknown upstream "${r.upstream}"`);
    if (r.upstream === undefined) err(['routes', i], 'missing required key "upstream"');
    // Stripped on a segment boundary: /api strips /api/x, never /apix (and /ap strips nothing).
    const sp = r.stripPrefix?.replace(/\/$/, '');
    if (sp !== undefined && !(r.path === sp || r.path.startsWith(`${sp}/`))) {
      err(['routes', i, 'stripPrefix'], `"${r.stripPrefix}" is not a leading segment of the path "${r.path}"`);
    }
    // Pre-route stages take their settings from `defaults` only: per-route values would be ignored.
    const hygiene = r.hygiene as Record<string, unknown> | undefined;
    for (const k of Object.keys(hygiene ?? {})) {
      if (k !== 'maxBodyBytes') err(['routes', i, 'hygiene', k], 'applies before routing: set it in defaults.hygiene (only maxBodyBytes is per route)');
    }
    if (r['request-id'] !== undefined) err(['routes', i, 'request-id'], 'applies before routing: set it in defaults.request-id');
    const names = r.listeners ?? config.listeners.filter(servesRoutes).map((l) => l.name);
    (r.listeners ?? []).forEach((n, j) => {
      const li = listenerNames.get(n);
      if (li === undefined) err(['routes', i, 'listeners', j], `unknown listener "${n}"`);
      else {
        const l = config.listeners[li];
        if (l && l.protocol === 'http' && !l.insecure) err(['routes', i, 'listeners', j], `listener "${n}" only redirects and serves no routes`);
        if (l?.admin) err(['routes', i, 'listeners', j], `listener "${n}" is the admin listener and serves no routes`);
      }
    });
    for (const n of names) {
      for (const m of r.methods) {
        const shape = r.path.replace(/\{[^}]+\}/g, '{}');
        const key = `${n}|${r.host ?? '*'}|${m}|${shape}`;
        const prev = seen.get(key);
        if (prev !== undefined) err(['routes', i, 'path'], `${m} ${r.path} on listener "${n}" is already routed by routes[${prev}]`);
        else seen.set(key, i);
        // Case-insensitive upstreams (Express, Spring, ASP.NET) would serve both with one handler.
        const folded = `${n}|${(r.host ?? '*').toLowerCase()}|${m}|${shape.toLowerCase().replace(/(.)\/+$/, '$1')}`;
        const twin = foldedSeen.get(folded);
        if (twin !== undefined && twin !== i && prev === undefined) err(['routes', i, 'path'], `${m} ${r.path} differs from routes[${twin}] only by case or a trailing slash: one upstream handler may serve both, so the routes must be one`);
        else if (twin === undefined) foldedSeen.set(folded, i);
      }
    }
    if (r.requireClientCertificate) {
      const ls = names.map((n) => config.listeners[listenerNames.get(n) ?? -1]);
      if (ls.some((l) => !hasClientAuth(l?.tls))) err(['routes', i, 'requireClientCertificate'], 'needs a listener with tls.clientAuth (on the listener or a certificate)');
    }
  });

  for (const stage of stages) {
    if (!stage.check) continue;
    const d = config.defaults[stage.name];
    if (d !== undefined) {
      for (const issue of stage.check(mergeStageConfig(stage.defaults, d))) err(['defaults', stage.name, ...checkPath(issue.path)], issue.message);
    }
    config.upstreams.forEach((u, i) => {
      const ud = u.defaults?.[stage.name];
      if (ud === undefined) return;
      for (const issue of stage.check!(mergeStageConfig(stage.defaults, d, ud))) err(['upstreams', i, 'defaults', stage.name, ...checkPath(issue.path)], issue.message);
    });
    config.routes.forEach((r, i) => {
      if (r[stage.name] === undefined) return;
      const ud = config.upstreams.find((u) => u.id === r.upstream)?.defaults?.[stage.name];
      const merged = mergeStageConfig(stage.defaults, d, ud, r[stage.name]);
      for (const issue of stage.check!(merged)) err(['routes', i, stage.name, ...checkPath(issue.path)], issue.message);
    });
  }
  for (const issue of checkRateLimitSettings(config)) err(issue.path, issue.message);
  for (const issue of checkAuthenticationSettings(config, _baseDir)) (issue.severity === 'error' ? err : warn)(issue.path, issue.message);
  for (const issue of checkStoreSettings(config.store)) (issue.severity === 'error' ? err : warn)(issue.path, issue.message);
  if (config.authServer) {
    const dev = config.listeners.some((l) => l.tls?.dev === true);
    for (const issue of checkAuthServer(config.authServer, config.routes.map((r) => r.host), dev)) (issue.severity === 'warning' ? warn : err)(issue.path, issue.message);
  }
  for (const issue of policyOf(config).issues) (issue.severity === 'error' ? err : warn)(issue.path, issue.message);
  if (config.routes.length === 0) warn(['routes'], 'no routes: every request will get 404');
  return out;
}

/** A stage check's path suffix (`limits.2.window`) as segments; list indexes as numbers (`limits[2].window`). */
function checkPath(p: string): Segment[] {
  return p.split('.').filter(Boolean).map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** The listeners a route without `listeners` is served on.  */
export function servesRoutes(l: { protocol: string; insecure?: boolean; admin?: boolean; redirectTo?: string }): boolean {
  return !l.admin && !l.redirectTo && (l.protocol === 'https' || l.insecure === true);
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}
