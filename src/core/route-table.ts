/**
 * The route table of one listener: host + path templates (/api/orders/{id}, a trailing * for a
 * prefix) compiled into find-my-way once per config generation, then only looked up.
 */
import Router, { type HTTPMethod } from 'find-my-way';

export interface RouteMatch<T> {
  readonly route: T;
  readonly params: Record<string, string>;
}

export type Lookup<T> =
  | { kind: 'match'; match: RouteMatch<T> }
  | { kind: 'method'; allow: string[] }
  | { kind: 'none' }
  /** The path differs from another route's only by case or a trailing slash (see find). */
  | { kind: 'ambiguous'; matched: T; other: T | undefined };

const ALL_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

/** /api/orders/{id} → /api/orders/:id ; ':' in static text is escaped as '::' (find-my-way). */
export function toRouterPath(template: string): string {
  return template
    .split(/(\{[A-Za-z_][A-Za-z0-9_]*\})/)
    .map((part) => (part.startsWith('{') ? `:${part.slice(1, -1)}` : part.replaceAll(':', '::')))
    .join('');
}

/** The normalised (decoded) path is re-escaped so find-my-way's own decoding is the identity. */
function routerInput(path: string): string {
  return path.replace(/[%?#;]/g, (c) => encodeURIComponent(c));
}

export class RouteTable<T> {
  readonly #router = Router({ caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, maxParamLength: 1024 });

  add(route: T, opts: { path: string; methods: readonly string[]; host: string | undefined }): void {
    const constraints = opts.host ? { host: hostConstraint(opts.host) } : {};
    const methods = new Set(opts.methods);
    // HEAD follows GET unless configured on its own (RFC 9110 §9.3.2).
    if (methods.has('GET')) methods.add('HEAD');
    for (const method of methods) {
      this.#router.on(method as HTTPMethod, toRouterPath(opts.path), { constraints }, () => undefined, route);
    }
  }

  /**
   * Matching is exact and case-sensitive. But many upstream frameworks are not (Express without
   * strict routing, Spring, ASP.NET): `/api/Admin/users/1` or `/api/admin/users/1/` must not reach,
   * through a catch-all like `/api/*`, the handler another route guards. So a path with a trailing
   * slash or an upper-case letter that matches one route while its lower-case form without the
   * slash belongs to another route is ambiguous, and refused.
   */
  find(method: string, host: string, path: string): Lookup<T> {
    const found = this.#find(method, host, path);
    if (found.kind === 'match' && path.length > 1 && (path.endsWith('/') || /[A-Z]/.test(path))) {
      const canonical = path.toLowerCase().replace(/\/+$/, '') || '/';
      const other = this.#find(method, host, canonical);
      if (other.kind === 'method' || (other.kind === 'match' && other.match.route !== found.match.route)) {
        return { kind: 'ambiguous', matched: found.match.route, other: other.kind === 'match' ? other.match.route : undefined };
      }
    }
    return found;
  }

  #find(method: string, host: string, path: string): Lookup<T> {
    const input = routerInput(path);
    const found = this.#router.find(method as HTTPMethod, input, { host });
    // An empty parameter ({id} matching '') is no match: /api/orders/ is not /api/orders/{id}.
    if (found && !Object.values(found.params).includes('')) {
      const params: Record<string, string> = {};
      for (const [k, v] of Object.entries(found.params)) if (v !== undefined) params[k] = v;
      return { kind: 'match', match: { route: found.store as T, params } };
    }
    const allow = ALL_METHODS.filter((m) => {
      if (m === method) return false;
      const f = this.#router.find(m, input, { host });
      return f !== null && !Object.values(f.params).includes('');
    });
    return allow.length ? { kind: 'method', allow } : { kind: 'none' };
  }
}

function hostConstraint(host: string): string | RegExp {
  const h = host.toLowerCase().replace(/:\d+$/, '');
  if (!h.startsWith('*.')) return h;
  const escaped = h.slice(2).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^[a-z0-9-]+\\.${escaped}$`);
}
