/**
 * `rampart policy report`: who can do what, for a periodic access review. Per role (inheritance
 * and wildcards resolved by the policy compiler): each route, path and methods it may call, with
 * the rule and its conditions (MFA, networks, schedule, ownership); then what any authenticated
 * caller and anyone may call; then who holds each role — config bindings by subject, and counts of
 * users, clients and keys in the store when it can be read (never a secret, never a name from the
 * store); then the compiler's lint findings.
 */
import type { RootConfig } from '../../config/types.ts';
import { formatPath, formatProblem } from '../../config/load.ts';
import { parseSubject, type Binding } from '../../stages/authn/config.ts';
import { granted } from '../../stages/authz/evaluate.ts';
import { policyOf, type CompiledRule } from '../../stages/authz/policy.ts';
import { table } from '../accounts/context.ts';
import { describeStore } from './store.ts';
import type { PolicyContext } from './decision.ts';

export interface Access {
  readonly route: string;
  readonly path: string;
  readonly methods: readonly string[];
  readonly rule: string;
  readonly conditions: readonly string[];
}

export interface RoleReport {
  readonly role: string;
  readonly description?: string;
  /** Every role it inherits from, directly or not. */
  readonly inherits: readonly string[];
  readonly permissions: readonly string[];
  readonly access: readonly Access[];
  readonly bindings: readonly string[];
  readonly store?: { readonly users: number; readonly disabledUsers: number; readonly clients: number; readonly keys: number };
}

export interface Report {
  readonly enabled: boolean;
  readonly mode: string;
  readonly roles: readonly RoleReport[];
  readonly authenticated: readonly Access[];
  readonly public: readonly Access[];
  /** Permission rules no role can satisfy: nobody may use them. */
  readonly unusable: readonly string[];
  /** Roles held in the store that the policy does not define (they grant nothing). */
  readonly undefinedStoreRoles: readonly string[];
  readonly store: string;
  readonly findings: readonly string[];
}

export function conditions(rule: CompiledRule): string[] {
  const out: string[] = [];
  if (rule.mfa) out.push(`mfa (${[...rule.mfa.amr].join('|')}${rule.mfa.maxAge !== undefined ? `, within ${rule.mfa.maxAge} s` : ''})`);
  if (rule.networks) out.push(`from ${rule.networks.text.join(', ')}`);
  if (rule.schedule) out.push(`schedule ${rule.schedule.map((w) => w.text).join('; ')}`);
  const o = rule.ownership;
  if (o) {
    const whose = `${o.kind} of ${o.issuerId}`;
    const parts = [...o.request.map((v) => `${v.in} ${v.name}`), ...(o.lookup ? [`lookup ${o.lookup.text}`] : []), ...(o.response ? [`response ${o.response.text}`] : [])];
    out.push(`own: ${parts.join(', ')} = caller's ${o.attribute} (${whose}; else ${o.onMismatch})`);
  }
  if (rule.mode === 'shadow') out.push('shadow (only logged)');
  return out;
}

function accessOf(rule: CompiledRule, root: RootConfig): Access[] {
  const paths = new Map(root.routes.map((r) => [r.id, r.path]));
  return [...rule.covers].map(([route, methods]) => ({ route, path: paths.get(route) ?? '', methods, rule: rule.id, conditions: conditions(rule) }));
}

function bindingsOf(root: RootConfig): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (bs: readonly Binding[], suffix: string) => {
    for (const b of bs) {
      const s = parseSubject(b.subject);
      for (const r of b.roles) out.set(r, [...(out.get(r) ?? []), `${s.kind}:${s.id}${suffix}`]);
    }
  };
  const auth = root.authentication;
  add(auth.builtin.bindings, '');
  add(auth.apiKeys.bindings, '');
  for (const iss of auth.issuers) {
    add(iss.bindings, ` (issuer ${iss.id})`);
    for (const [value, roles] of Object.entries(iss.roles?.map ?? {})) {
      for (const r of roles) out.set(r, [...(out.get(r) ?? []), `claim ${iss.roles?.claim} = "${value}" (issuer ${iss.id})`]);
    }
  }
  return out;
}

export async function buildReport(ctx: PolicyContext): Promise<Report> {
  const { root, policy } = ctx;
  const cfg = root.authorization;
  const declared = cfg?.roles ?? {};
  const ancestors = (role: string, seen = new Set<string>()): string[] => {
    for (const parent of declared[role]?.inherits ?? []) {
      if (seen.has(parent)) continue;
      seen.add(parent);
      ancestors(parent, seen);
    }
    return [...seen];
  };
  const bound = bindingsOf(root);

  // Counts from the store (none of its names or secrets are printed).
  const now = Math.floor(Date.now() / 1000);
  const counted = await ctx.store.read(async (s) => ({ users: await s.users.list(), clients: await s.clients.list(), keys: await s.apiKeys.list() }));
  const counts = new Map<string, { users: number; disabledUsers: number; clients: number; keys: number }>();
  const count = (role: string) => {
    let c = counts.get(role);
    if (!c) counts.set(role, (c = { users: 0, disabledUsers: 0, clients: 0, keys: 0 }));
    return c;
  };
  if (counted) {
    for (const u of counted.users) for (const r of u.roles) (u.disabled ? count(r).disabledUsers++ : count(r).users++);
    for (const c of counted.clients) if (!c.disabled) for (const r of c.roles) count(r).clients++;
    for (const k of counted.keys) {
      if (k.revokedAt !== undefined || (k.expiresAt !== undefined && k.expiresAt <= now)) continue;
      for (const r of k.roles) count(r).keys++;
    }
  }

  const roles: RoleReport[] = [...policy.roles].map(([role, perms]) => {
    const access = policy.rules.filter((rule) => rule.access === 'permissions' && rule.permissions.every((p) => granted(policy, [role], p))).flatMap((rule) => accessOf(rule, root));
    const description = declared[role]?.description;
    return {
      role, ...(description ? { description } : {}), inherits: ancestors(role), permissions: [...perms].sort(), access,
      bindings: bound.get(role) ?? [],
      ...(counted ? { store: counts.get(role) ?? { users: 0, disabledUsers: 0, clients: 0, keys: 0 } } : {}),
    };
  });
  const unusable = policy.rules.filter((rule) => rule.access === 'permissions' && ![...policy.roles.keys()].some((role) => rule.permissions.every((p) => granted(policy, [role], p)))).map((r) => r.id);

  // The compiler's findings, placed in the config file where the loader placed them.
  const located = new Map(ctx.loaded.warnings.map((w) => [`${w.path}|${w.message}`, w]));
  const findings = policyOf(root).issues.map((i) => {
    const p = formatPath(i.path);
    const w = located.get(`${p}|${i.message}`);
    return w ? formatProblem(w) : `${ctx.loaded.file}: ${i.severity === 'warning' ? 'warning: ' : ''}${p}: ${i.message}`;
  });

  return {
    enabled: policy.enabled,
    mode: policy.mode,
    roles,
    authenticated: policy.rules.filter((r) => r.access === 'authenticated').flatMap((r) => accessOf(r, root)),
    public: policy.rules.filter((r) => r.access === 'public').flatMap((r) => accessOf(r, root)),
    unusable,
    undefinedStoreRoles: [...counts.keys()].filter((r) => !policy.roles.has(r)).sort(),
    store: describeStore(ctx.store.status),
    findings,
  };
}

function accessTable(list: readonly Access[], indent: string): string {
  if (!list.length) return `${indent}(nothing)\n`;
  const rows = list.map((a) => [a.route, a.path, a.methods.join(','), a.rule, a.conditions.join('; ')]);
  return table(['ROUTE', 'PATH', 'METHODS', 'RULE', 'CONDITIONS'], rows).trimEnd().replace(/^/gm, indent) + '\n';
}

export function renderReport(r: Report, file: string): string {
  let out = `Access review of ${file}${r.enabled ? '' : ' — authorization is off: every request passes'}${r.mode === 'shadow' ? ' — shadow mode: denials are only logged' : ''}\n`;
  for (const role of r.roles) {
    out += `\nRole ${role.role}${role.description ? ` — ${role.description}` : ''}${role.inherits.length ? ` (inherits ${role.inherits.join(', ')})` : ''}\n`;
    out += `  permissions: ${role.permissions.join(', ') || '(none)'}\n`;
    out += accessTable(role.access, '  ');
    out += `  bound in config: ${role.bindings.join(', ') || '(nobody)'}\n`;
    if (role.store) out += `  held in the store: ${role.store.users} user(s)${role.store.disabledUsers ? ` (+${role.store.disabledUsers} disabled)` : ''}, ${role.store.clients} client(s), ${role.store.keys} active key(s)\n`;
  }
  out += '\nAny authenticated caller\n' + accessTable(r.authenticated, '  ');
  out += '\nPublic (anyone, no credentials)\n' + accessTable(r.public, '  ');
  if (r.unusable.length) out += `\nRules no role can satisfy: ${r.unusable.join(', ')}\n`;
  if (r.undefinedStoreRoles.length) out += `\nRoles held in the store that the policy does not define (they grant nothing): ${r.undefinedStoreRoles.join(', ')}\n`;
  out += `\nStore: ${r.store}\n`;
  out += '\nFindings\n' + (r.findings.length ? r.findings.map((f) => `  ${f}\n`).join('') : '  (none)\n');
  return out;
}

export async function runReport(ctx: PolicyContext, json: boolean, out: (t: string) => void): Promise<number> {
  const r = await buildReport(ctx);
  out(json ? JSON.stringify(r, null, 2) + '\n' : renderReport(r, ctx.loaded.file));
  return 0;
}
