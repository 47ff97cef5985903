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
  /** The same routes under their canonical templates (lower case, no trailing slash). */
  readonly #canonical = Router({ caseSensitive: true, ignoreTrailingSlash: false, ignoreDuplicateSlashes: false, maxParamLength: 1024 });
  /** Some template is not in canonical form (upper case, a trailing slash). */
  #nonCanonical = false;

  add(route: T, opts: { path: string; methods: readonly string[]; host: string | undefined }): void {
    const constraints = opts.host ? { host: hostConstraint(opts.host) } : {};
    const methods = new Set(opts.methods);
    // HEAD follows GET unless configured on its own (RFC 9110 §9.3.2).
    if (methods.has('GET')) methods.add('HEAD');
    const canonical = canonicalTemplate(opts.path);
    if (canonical !== opts.path) this.#nonCanonical = true;
    for (const method of methods) {
      this.#router.on(method as HTTPMethod, toRouterPath(opts.path), { constraints }, () => undefined, route);
      // Per method: two routes on one path with different methods both keep their canonical form.
      // Two templates that differ only by case or a trailing slash are refused at load
      // (src/config/semantic.ts); should one get here, the first keeps the canonical form.
      try {
        this.#canonical.on(method as HTTPMethod, toRouterPath(canonical), { constraints }, () => undefined, route);
      } catch {
        /* already there */
      }
    }
  }

  /**
   * Matching is exact and case-sensitive. But many upstream frameworks are not (Express without
   * strict routing, Spring, ASP.NET): `/api/Admin/users/1` or `/api/admin/users/1/` must not reach,
   * through a catch-all like `/api/*`, the handler another route guards — nor `/api/admin/1` the
   * handler of a route written `/api/Admin/{id}`. So every matched path is also looked up in its
   * canonical form (lower case, no trailing slash) among the routes' canonical templates; when that
   * finds another route, the path is ambiguous and refused.
   */
  find(method: string, host: string, path: string): Lookup<T> {
    const found = this.#find(method, host, path);
    if (found.kind !== 'match') return found;
    // With canonical templates only, a canonical path finds the same route in both tables: the
    // second lookup is needed only for a path with upper case or a trailing slash (hot path).
    const plain = path.length <= 1 || (!path.endsWith('/') && !/[A-Z]/.test(path));
    if (plain && !this.#nonCanonical) return found;
    const canonical = path.length > 1 ? path.toLowerCase().replace(/\/+$/, '') || '/' : path;
    const other = this.#canonical.find(method as HTTPMethod, routerInput(canonical), { host });
    if (other && other.store !== found.match.route && !Object.values(other.params).includes('')) {
      return { kind: 'ambiguous', matched: found.match.route, other: other.store as T };
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

/** /api/Admin/{orderId}/ → /api/admin/{orderId}: static text in lower case, no trailing slash. */
function canonicalTemplate(template: string): string {
  const lower = template.split(/(\{[^}]*\})/).map((part) => (part.startsWith('{') ? part : part.toLowerCase())).join('');
  return lower.length > 1 ? lower.replace(/\/+$/, '') || '/' : lower;
}

function hostConstraint(host: string): string | RegExp {
  const h = host.toLowerCase().replace(/:\d+$/, '');
  if (!h.startsWith('*.')) return h;
  const escaped = h.slice(2).replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^[a-z0-9-]+\\.${escaped}$`);
}
