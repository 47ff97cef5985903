/**
 * The policy, compiled once per config: roles flattened to the concrete permissions they grant
 * (inheritance and wildcards resolved), rules indexed by route id and method, conditions
 * pre-parsed. The authz stage, `rampart check` and `rampart policy` all use this one compiler, so
 * what the CLI explains is what the gateway enforces.
 *
 * Default deny: once authorization is on (an `authorization` section, or any credential source),
 * every method of every route needs a rule, or the config is refused — each gap named.
 */
import type { RootConfig, RouteConfig } from '../../config/types.ts';
import type { Segment } from '../../config/load.ts';
import type { StageMode } from '../../core/stage.ts';
import { IpSet, parseCidr } from '../../core/net/cidr.ts';
import { BUILTIN_ID, type AuthenticationConfig } from '../authn/config.ts';
import { ACR_MFA } from '../../auth-server/acr.ts';
import { API_KEY_ISSUER_ID, API_KEY_ISSUER_URL } from './issuers.ts';
import { type AuthorizationConfig, type Day, type OwnershipConfig } from './config.ts';

export interface PolicyIssue {
  readonly path: Segment[];
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

export interface CompiledWindow {
  readonly days: ReadonlySet<Day> | undefined;
  /** Minutes since local midnight. */
  readonly from: number;
  readonly to: number;
  readonly timeZone: string;
  readonly text: string;
}

export interface CompiledOwnership {
  /** Issuer URL and kind the owner values belong to (S3); '' for an unconfigured built-in server. */
  readonly issuer: string;
  readonly issuerId: string;
  readonly kind: 'user' | 'client' | 'key';
  readonly attribute: string;
  readonly request: ReadonlyArray<{ readonly in: 'path' | 'query' | 'body'; readonly name: string; readonly pointer?: readonly string[] }>;
  readonly response: { readonly field: readonly string[]; readonly items: readonly string[] | undefined; readonly text: string } | undefined;
  /** GET this upstream path template before forwarding; its `field` must be the caller's. */
  readonly lookup: { readonly path: string; readonly params: readonly string[]; readonly field: readonly string[]; readonly text: string } | undefined;
  readonly onMismatch: 403 | 404;
}

export interface CompiledRule {
  readonly id: string;
  /** Position in authorization.rules (for messages and the report). */
  readonly index: number;
  readonly description: string | undefined;
  readonly mode: StageMode;
  readonly access: 'public' | 'authenticated' | 'permissions';
  readonly permissions: readonly string[];
  readonly networks: { readonly set: IpSet; readonly text: readonly string[] } | undefined;
  readonly schedule: readonly CompiledWindow[] | undefined;
  readonly mfa: { readonly amr: ReadonlySet<string>; readonly maxAge: number | undefined } | undefined;
  readonly ownership: CompiledOwnership | undefined;
  /** Route id → methods this rule covers on it. */
  readonly covers: ReadonlyMap<string, readonly string[]>;
}

export interface RoutePolicy {
  readonly routeId: string;
  /** Method → the enforced rules that may allow it, in config order. HEAD falls back to GET's rules. */
  readonly byMethod: ReadonlyMap<string, readonly CompiledRule[]>;
  /** Method → the shadow rules: evaluated beside the enforced ones, logged, never deciding. */
  readonly shadowByMethod: ReadonlyMap<string, readonly CompiledRule[]>;
  /** Methods some public rule allows, or only shadow rules cover (authn lets anonymous callers through on these). */
  readonly publicMethods: ReadonlySet<string>;
  /** Methods whose rules read the JSON body (ownership by body value). */
  readonly bodyMethods: ReadonlySet<string>;
  /** Some rule of the route fetches the object from the upstream first (ownership.lookup). */
  readonly lookups: boolean;
}

export interface Policy {
  /** False only when there is no `authorization` section and no credential source at all. */
  readonly enabled: boolean;
  readonly mode: StageMode;
  readonly scopeNarrowing: boolean;
  readonly realm: string;
  readonly apiKeysEnabled: boolean;
  /** Some token issuer is trusted (challenges name Bearer). */
  readonly bearer: boolean;
  /** Role → every concrete permission it grants (inheritance and wildcards resolved). */
  readonly roles: ReadonlyMap<string, ReadonlySet<string>>;
  /** Permission → the token scopes that carry it. */
  readonly scopes: ReadonlyMap<string, readonly string[]>;
  readonly routes: ReadonlyMap<string, RoutePolicy>;
  readonly rules: readonly CompiledRule[];
  /** ACR value of a two-factor login at the built-in server, for step-up challenges. */
  readonly mfaAcr: string | undefined;
  /** The built-in server's issuer URL, when configured. */
  readonly builtinIssuer: string | undefined;
}

export interface CompiledPolicy {
  readonly policy: Policy;
  readonly issues: readonly PolicyIssue[];
}


const cache = new WeakMap<RootConfig, CompiledPolicy>();

/** The compiled policy of a config, computed once per config object (shared by every route's stage). */
export function policyOf(root: RootConfig): CompiledPolicy {
  let c = cache.get(root);
  if (!c) {
    c = compilePolicy(root);
    cache.set(root, c);
  }
  return c;
}

export function hasCredentialSource(root: RootConfig): boolean {
  const a = (root as { authentication?: AuthenticationConfig }).authentication;
  return root.authServer !== undefined || (a?.issuers.length ?? 0) > 0 || a?.apiKeys.enabled === true;
}

const EMPTY: AuthorizationConfig = { mode: 'enforce', timeZone: 'UTC', scopeNarrowing: true, permissions: {}, roles: {}, rules: [] };

export function compilePolicy(root: RootConfig): CompiledPolicy {
  const issues: PolicyIssue[] = [];
  const err = (p: Segment[], message: string) => issues.push({ path: p, message, severity: 'error' });
  const warn = (p: Segment[], message: string) => issues.push({ path: p, message, severity: 'warning' });
  const declared = root.authorization;
  const cfg = declared ?? EMPTY;
  const auth = (root as { authentication?: AuthenticationConfig }).authentication;
  const enabled = declared !== undefined || hasCredentialSource(root);
  const at = (...p: Segment[]): Segment[] => ['authorization', ...p];

  validTimeZone(cfg.timeZone) || err(at('timeZone'), `unknown time zone "${cfg.timeZone}"`);
  if (declared && cfg.mode === 'shadow') warn(at('mode'), 'shadow mode: every denial is only logged ("would deny"), nothing is refused');
  if (declared && !cfg.scopeNarrowing) warn(at('scopeNarrowing'), 'token scopes do not narrow role permissions: a token can do everything its user may');

  // Permissions and the scopes that carry them.
  const permissionNames = Object.keys(cfg.permissions);
  const scopes = new Map<string, readonly string[]>();
  for (const p of permissionNames) scopes.set(p, cfg.permissions[p]?.scopes ?? [p]);

  // Roles: wildcards expanded against declared permissions, inheritance flattened, cycles refused.
  const direct = new Map<string, Set<string>>();
  const usedPermissions = new Set<string>();
  for (const [role, r] of Object.entries(cfg.roles)) {
    const set = new Set<string>();
    (r.permissions ?? []).forEach((g, i) => {
      const p = at('roles', role, 'permissions', i);
      if (g === '*' || g.endsWith(':*')) {
        const prefix = g === '*' ? '' : g.slice(0, -1);
        const matched = permissionNames.filter((n) => n.startsWith(prefix));
        warn(p, `wildcard "${g}" grants ${matched.length} permission(s), and every one added later: prefer naming them (least privilege)`);
        if (!matched.length) err(p, `"${g}" matches no declared permission`);
        for (const m of matched) set.add(m);
      } else if (!Object.hasOwn(cfg.permissions, g)) {
        err(p, `unknown permission "${g}": declare it under authorization.permissions`);
      } else set.add(g);
    });
    direct.set(role, set);
  }
  const roles = new Map<string, ReadonlySet<string>>();
  const resolving = new Set<string>();
  const flatten = (role: string): ReadonlySet<string> => {
    const done = roles.get(role);
    if (done) return done;
    if (resolving.has(role)) return new Set();
    resolving.add(role);
    const out = new Set(direct.get(role));
    (cfg.roles[role]?.inherits ?? []).forEach((parent, i) => {
      if (!Object.hasOwn(cfg.roles, parent)) {
        err(at('roles', role, 'inherits', i), `unknown role "${parent}"`);
        return;
      }
      if (resolving.has(parent)) {
        err(at('roles', role, 'inherits', i), `inheritance cycle: ${role} → ${parent}`);
        return;
      }
      for (const p of flatten(parent)) out.add(p);
    });
    resolving.delete(role);
    roles.set(role, out);
    return out;
  };
  for (const role of Object.keys(cfg.roles)) flatten(role);
  for (const set of roles.values()) for (const p of set) usedPermissions.add(p);

  // Role names used by bindings must exist (a typo would silently grant nothing).
  if (declared && auth) {
    const checkRoles = (list: readonly string[], p: Segment[]) => list.forEach((r, i) => {
      if (!Object.hasOwn(cfg.roles, r)) err([...p, i], `unknown role "${r}": define it under authorization.roles`);
    });
    auth.builtin.bindings.forEach((b, i) => checkRoles(b.roles, ['authentication', 'builtin', 'bindings', i, 'roles']));
    auth.apiKeys.bindings.forEach((b, i) => checkRoles(b.roles, ['authentication', 'apiKeys', 'bindings', i, 'roles']));
    auth.issuers.forEach((iss, n) => {
      iss.bindings.forEach((b, i) => checkRoles(b.roles, ['authentication', 'issuers', n, 'bindings', i, 'roles']));
      for (const [value, list] of Object.entries(iss.roles?.map ?? {})) checkRoles(list, ['authentication', 'issuers', n, 'roles', 'map', value]);
    });
  }

  // Issuers an ownership rule may name.
  const issuerUrls = new Map<string, string>();
  if (root.authServer) issuerUrls.set(BUILTIN_ID, root.authServer.issuer);
  for (const i of auth?.issuers ?? []) issuerUrls.set(i.id, i.issuer);
  issuerUrls.set(API_KEY_ISSUER_ID, API_KEY_ISSUER_URL);

  // Rules.
  const routesById = new Map(root.routes.map((r) => [r.id, r]));
  const ruleIds = new Map<string, number>();
  const rules: CompiledRule[] = [];
  const requiredPermissions = new Set<string>();
  cfg.rules.forEach((r, index) => {
    const p = (...s: Segment[]) => at('rules', index, ...s);
    if (ruleIds.has(r.id)) err(p('id'), `duplicate rule id "${r.id}" (also rules[${ruleIds.get(r.id)}])`);
    ruleIds.set(r.id, index);
    const selectors = [r.route !== undefined, r.routes !== undefined, r.path !== undefined].filter(Boolean).length;
    if (selectors !== 1) err(p(), 'name the routes it covers with exactly one of route, routes or path');
    const access = [r.public === true, r.authenticated === true, r.permissions !== undefined].filter(Boolean).length;
    if (access !== 1) err(p(), 'say who is allowed with exactly one of public: true, authenticated: true or permissions');
    for (const [i, perm] of (r.permissions ?? []).entries()) {
      if (!Object.hasOwn(cfg.permissions, perm)) err(p('permissions', i), `unknown permission "${perm}": declare it under authorization.permissions`);
      requiredPermissions.add(perm);
    }
    if (r.public && (r.mfa || r.ownership)) err(p(), 'a public rule cannot require MFA or ownership: there is no principal to check');
    if (r.public && !r.methods) warn(p(), 'a public rule without methods also opens every method added to its routes later: list them');

    // Covered routes and methods.
    let targets: RouteConfig[] = [];
    if (r.route !== undefined) {
      const t = routesById.get(r.route);
      if (!t) err(p('route'), `unknown route "${r.route}"`);
      else targets = [t];
    } else if (r.routes !== undefined) {
      r.routes.forEach((id, i) => {
        const t = routesById.get(id);
        if (!t) err(p('routes', i), `unknown route "${id}"`);
        else targets.push(t);
      });
    } else if (r.path !== undefined) {
      targets = root.routes.filter((t) => t.path === r.path);
      if (!targets.length) err(p('path'), `no route has the path template "${r.path}"`);
    }
    const covers = new Map<string, string[]>();
    for (const t of targets) {
      const methods = r.methods ? r.methods.filter((m) => t.methods.includes(m) || (m === 'HEAD' && t.methods.includes('GET'))) : [...t.methods];
      if (methods.length) {
        covers.set(t.id, methods);
        const unserved = r.methods?.filter((m) => !t.methods.includes(m) && !(m === 'HEAD' && t.methods.includes('GET'))) ?? [];
        if (unserved.length && r.path === undefined) warn(p('methods'), `route "${t.id}" does not serve ${unserved.join(', ')}: the rule covers nothing there`);
      } else if (r.route !== undefined || r.routes !== undefined) err(p('methods'), `route "${t.id}" serves none of ${r.methods?.join(', ')}`);
    }
    if (targets.length && !covers.size && r.path !== undefined) err(p('methods'), `no route with path "${r.path}" serves ${r.methods?.join(', ')}`);

    const networks = r.networks ? compileNetworks(r.networks, p('networks'), err) : undefined;
    const schedule = r.schedule?.map((w, i) => compileWindow(w, cfg.timeZone, p('schedule', i), err));
    const mfa = r.mfa === undefined || r.mfa === false ? undefined : {
      amr: new Set(typeof r.mfa === 'object' && r.mfa.amr ? r.mfa.amr : ['otp']),
      maxAge: typeof r.mfa === 'object' ? r.mfa.maxAgeSeconds : undefined,
    };
    const ownership = r.ownership ? compileOwnership(r.ownership, targets, issuerUrls, p('ownership'), err) : undefined;
    if (r.mode === 'shadow') warn(p('mode'), 'shadow rule: its denials are only logged ("would deny")');

    rules.push({
      id: r.id, index, description: r.description, mode: r.mode ?? 'enforce',
      access: r.public ? 'public' : r.authenticated ? 'authenticated' : 'permissions',
      permissions: r.permissions ?? [], networks, schedule, mfa, ownership, covers,
    });
  });

  // Lint: declared but unused.
  if (declared) {
    for (const perm of permissionNames) {
      if (!usedPermissions.has(perm)) warn(at('permissions', perm), `no role grants "${perm}"`);
      else if (!requiredPermissions.has(perm)) warn(at('permissions', perm), `no rule requires "${perm}"`);
    }
    for (const [role, set] of roles) {
      if (![...set].some((perm) => requiredPermissions.has(perm)) && !isBound(role, auth)) warn(at('roles', role), `role "${role}" grants no permission any rule requires`);
    }
  }

  // Per route: the index, and default deny (every method needs a rule).
  const routes = new Map<string, RoutePolicy>();
  root.routes.forEach((route, i) => {
    const byMethod = new Map<string, CompiledRule[]>();
    const shadowByMethod = new Map<string, CompiledRule[]>();
    for (const rule of rules) {
      const into = rule.mode === 'shadow' ? shadowByMethod : byMethod;
      for (const m of rule.covers.get(route.id) ?? []) {
        const list = into.get(m) ?? [];
        list.push(rule);
        into.set(m, list);
      }
    }
    // HEAD follows GET, except rules that must read the answer: a HEAD answer has no body to check,
    // and its status alone would tell whether someone else's object exists.
    // Shadow rules follow only where an enforced rule does: a derived HEAD must never become a
    // method covered by shadow rules only (open to every caller).
    if (route.methods.includes('GET') && !byMethod.has('HEAD')) {
      const head = (byMethod.get('GET') ?? []).filter((r) => !r.ownership?.response);
      if (head.length) {
        byMethod.set('HEAD', head);
        const trial = (shadowByMethod.get('GET') ?? []).filter((r) => !r.ownership?.response);
        if (trial.length && !shadowByMethod.has('HEAD')) shadowByMethod.set('HEAD', trial);
      } else if (!route.methods.includes('HEAD')) shadowByMethod.delete('HEAD');
    }
    if (enabled) {
      const missing = route.methods.filter((m) => !byMethod.has(m) && !shadowByMethod.has(m));
      if (missing.length === route.methods.length) {
        err(['routes', i], `route "${route.id}" has no authorization rule (default deny): add one under authorization.rules (permissions, authenticated: true or public: true)`);
      } else if (missing.length) {
        err(['routes', i, 'methods'], `route "${route.id}" has no authorization rule for ${missing.join(', ')} (default deny): add a rule or remove the method`);
      }
      const trialOnly = [...shadowByMethod.keys()].filter((m) => !byMethod.has(m));
      if (trialOnly.length) warn(['routes', i], `route "${route.id}": ${trialOnly.join(', ')} covered by shadow rules only — open to every caller until a rule is enforced`);
      for (const [m, list] of byMethod) {
        const open = list.find((r) => r.access === 'public');
        const moot = list.filter((r) => r !== open);
        if (open && moot.length) warn(['authorization', 'rules', open.index], `rule "${open.id}" makes ${m} ${route.path} public: rule(s) ${moot.map((r) => `"${r.id}"`).join(', ')} never decide there`);
      }
      // A foreign object's 404 looks like a missing one's only when upstream 4xx bodies are masked.
      const proxy = (route.proxy ?? root.upstreams.find((u) => u.id === route.upstream)?.defaults?.proxy ?? root.defaults.proxy) as { passUpstreamErrors?: string[] } | undefined;
      if (proxy?.passUpstreamErrors?.includes('4xx')) {
        for (const r of rules) {
          if (r.covers.has(route.id) && r.ownership?.response && r.ownership.onMismatch === 404) warn(['authorization', 'rules', r.index, 'ownership', 'onMismatch'], `route "${route.id}" passes upstream 4xx bodies: its own 404s differ from the gateway's, so a foreign object can be told from a missing one`);
        }
      }
      if (route.websocket) {
        for (const r of rules) {
          if (r.covers.has(route.id) && r.ownership?.response) err(['authorization', 'rules', r.index, 'ownership', 'response'], `route "${route.id}" accepts WebSocket upgrades, whose answer is a stream that cannot be checked: use request ownership or a lookup`);
        }
      }
    }
    const publicMethods = new Set<string>();
    const bodyMethods = new Set<string>();
    const lookups = [...byMethod.values(), ...shadowByMethod.values()].some((list) => list.some((r) => r.ownership?.lookup));
    for (const [m, list] of [...byMethod, ...shadowByMethod]) {
      if (list.some((r) => r.access === 'public') || (!byMethod.has(m) && shadowByMethod.has(m))) publicMethods.add(m);
      if (list.some((r) => r.ownership?.request.some((v) => v.in === 'body'))) bodyMethods.add(m);
    }
    routes.set(route.id, { routeId: route.id, byMethod, shadowByMethod, publicMethods, bodyMethods, lookups });
  });
  if (!enabled && root.routes.length) {
    warn(['routes'], 'no credential source and no authorization section: every route is public to anonymous callers (add an authorization section with public: true rules to say so)');
  }

  return {
    policy: {
      enabled, mode: cfg.mode, scopeNarrowing: cfg.scopeNarrowing, realm: auth?.realm ?? 'rampart',
      apiKeysEnabled: auth?.apiKeys.enabled === true, bearer: root.authServer !== undefined || (auth?.issuers.length ?? 0) > 0, roles, scopes, routes, rules,
      mfaAcr: root.authServer ? ACR_MFA : undefined,
      builtinIssuer: root.authServer?.issuer,
    },
    issues,
  };
}

function isBound(role: string, auth: AuthenticationConfig | undefined): boolean {
  if (!auth) return false;
  const inList = (bs: readonly { roles: readonly string[] }[]) => bs.some((b) => b.roles.includes(role));
  return inList(auth.builtin.bindings) || inList(auth.apiKeys.bindings) || auth.issuers.some((i) => inList(i.bindings) || Object.values(i.roles?.map ?? {}).some((l) => l.includes(role)));
}

function compileNetworks(list: readonly string[], p: Segment[], err: (p: Segment[], m: string) => void): CompiledRule['networks'] {
  list.forEach((c, i) => {
    if (!parseCidr(c)) err([...p, i], `"${c}" is not an IP address or CIDR range`);
  });
  return { set: new IpSet(list.filter((c) => parseCidr(c))), text: list };
}

function minutes(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number) as [number, number];
  return h * 60 + m;
}

function compileWindow(w: { days?: readonly Day[]; from?: string; to?: string; timeZone?: string }, defaultTz: string, p: Segment[], err: (p: Segment[], m: string) => void): CompiledWindow {
  const timeZone = w.timeZone ?? defaultTz;
  if (w.timeZone !== undefined && !validTimeZone(w.timeZone)) err([...p, 'timeZone'], `unknown time zone "${w.timeZone}"`);
  if (!w.days && w.from === undefined && w.to === undefined) err(p, 'a window needs days, from/to or both');
  const from = minutes(w.from ?? '00:00');
  const to = minutes(w.to ?? '24:00');
  if (from === to) err(p, 'from and to are equal: the window is empty');
  const days = w.days ? new Set(w.days) : undefined;
  const text = `${w.days ? w.days.join(',') : 'every day'} ${w.from ?? '00:00'}–${w.to ?? '24:00'} ${timeZone}`;
  return { days, from, to, timeZone, text };
}

function compileOwnership(o: OwnershipConfig, targets: readonly RouteConfig[], issuers: ReadonlyMap<string, string>, p: Segment[], err: (p: Segment[], m: string) => void): CompiledOwnership {
  const issuerId = o.principal?.issuer ?? BUILTIN_ID;
  // The built-in issuer's URL comes from authServer; without one (tests inject a built-in issuer)
  // the stage fills it in at compile, and with none at all nobody matches (fail closed).
  const issuer = issuers.get(issuerId);
  if (!issuer && issuerId !== BUILTIN_ID) err([...p, 'principal', 'issuer'], `unknown issuer "${issuerId}"`);
  const kind = o.principal?.kind ?? (issuerId === API_KEY_ISSUER_ID ? 'key' : 'user');
  if (!o.request && !o.response && !o.lookup) err(p, 'say what must belong to the caller: request values, a lookup, the response');
  const request = (o.request ?? []).map((v, i) => {
    if ('path' in v) {
      for (const t of targets) {
        if (!t.path.includes(`{${v.path}}`)) err([...p, 'request', i, 'path'], `route "${t.id}" has no path parameter {${v.path}}`);
      }
      return { in: 'path' as const, name: v.path };
    }
    if ('query' in v) return { in: 'query' as const, name: v.query };
    return { in: 'body' as const, name: v.body, pointer: parsePointer(v.body) };
  });
  const response = o.response ? { field: o.response.field.split('.'), items: o.response.items ? parsePointer(o.response.items) : undefined, text: o.response.items ? `${o.response.items}[*].${o.response.field}` : o.response.field } : undefined;
  let lookup: CompiledOwnership['lookup'];
  if (o.lookup) {
    const params = [...o.lookup.path.matchAll(/\{([^}]*)\}/g)].map((m) => m[1] as string);
    for (const name of params) {
      for (const t of targets) {
        if (!t.path.includes(`{${name}}`)) err([...p, 'lookup', 'path'], `route "${t.id}" has no path parameter {${name}}`);
      }
    }
    if (targets.some((t) => !t.upstream)) err([...p, 'lookup'], 'needs routes with an upstream');
    lookup = { path: o.lookup.path, params, field: o.lookup.field.split('.'), text: `GET ${o.lookup.path} → ${o.lookup.field}` };
  }
  return { issuer: issuer ?? '', issuerId, kind, attribute: o.attribute ?? 'subject', request, response, lookup, onMismatch: o.onMismatch ?? 404 };
}

export function parsePointer(pointer: string): string[] {
  return pointer.split('/').slice(1).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

