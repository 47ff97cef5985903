/**
 * `rampart policy explain`: why one request would be allowed or denied — the route it reaches,
 * the caller as the gateway would see it, the decision (status and code as the gateway answers),
 * the deciding rule, and every rule of the route and method with each of its checks. Exit 0 when
 * allowed, 1 when denied.
 */
import { table } from '../accounts/context.ts';
import { describeStore } from './store.ts';
import { summary, type Outcome, type PolicyContext, type Question } from './decision.ts';
import { answer } from './decision.ts';

export async function runExplain(ctx: PolicyContext, q: Question, json: boolean, out: (t: string) => void): Promise<number> {
  const o = await answer(ctx, q);
  out(json ? JSON.stringify(toJson(ctx, q, o), null, 2) + '\n' : render(ctx, q, o));
  return o.decision.allowed ? 0 : 1;
}

function toJson(ctx: PolicyContext, q: Question, o: Outcome): Record<string, unknown> {
  const d = o.decision;
  const p = o.principal;
  return {
    request: { method: q.method, path: q.path, query: q.query ?? '', ...(q.host ? { host: q.host } : {}) },
    route: o.match.ok
      ? { id: o.match.route.id, path: o.match.route.path, listener: o.match.listener, host: o.match.host, normalisedPath: o.match.path, params: o.match.params }
      : null,
    principal: p
      ? {
        kind: p.principal.kind, subject: p.principal.subject, issuer: p.principal.issuer, roles: p.principal.roles, rolesFrom: p.rolesFrom,
        scopes: p.principal.scopes, scopesAssumed: p.scopesAssumed, amr: p.principal.amr,
        ...(p.principal.authTime !== undefined ? { authTime: p.principal.authTime } : {}),
      }
      : null,
    clientIp: o.ip,
    at: new Date(o.now).toISOString(),
    store: ctx.store.status ?? null,
    decision: {
      allowed: d.allowed, stage: d.stage, shadow: d.shadow, summary: summary(d),
      ...(d.error ? { status: d.error.status, code: d.error.code, headers: d.error.headers } : {}),
      ...(d.rule ? { rule: d.rule.id } : {}),
      ...(d.obligation ? { obligation: d.obligation } : {}),
      reason: d.reason,
    },
    rules: o.trace.map((t) => ({
      id: t.rule.id, allowed: t.allowed, mode: t.rule.mode,
      checks: t.checks,
      ...(t.rule.ownership?.response ? { response: `${t.rule.ownership.response.text} must be the caller's ${t.rule.ownership.attribute}` } : {}),
    })),
    notes: p?.notes ?? [],
  };
}

function render(ctx: PolicyContext, q: Question, o: Outcome): string {
  const lines: string[] = [];
  const row = (k: string, v: string) => lines.push(`${k.padEnd(10)} ${v}`);
  const m = o.match;
  row('request', `${q.method} ${q.path}${q.query ? `?${q.query}` : ''}${m.ok ? `  (host ${m.host}${m.path !== q.path ? `, normalised ${m.path}` : ''})` : ''}`);
  if (m.ok) {
    const params = Object.entries(m.params).map(([k, v]) => `${k}=${v}`).join(', ');
    row('route', `${m.route.id}  ${m.route.path}  listener ${m.listener}${params ? `  {${params}}` : ''}`);
  } else if (m.stage === 'route') {
    row('route', m.error.status === 405 ? `405 no route for ${q.method} (allowed: ${m.error.headers.allow})` : `404 no route${m.path ? ` for ${m.path}` : ''}`);
  } else {
    row('route', `refused before routing (${m.error.reason ?? m.error.code})`);
  }
  const p = o.principal;
  if (p) {
    const pr = p.principal;
    row('caller', pr.kind === 'anonymous' ? 'anonymous (no credentials)' : `${pr.kind}:${pr.subject}  issuer ${pr.issuer}`);
    if (pr.kind !== 'anonymous') {
      row('roles', `${pr.roles.join(', ') || '(none)'}  (${p.rolesFrom})`);
      row('scopes', p.scopesAssumed ? `not narrowed (assumed all${pr.scopes.length ? `: ${pr.scopes.join(', ')}` : ''})` : pr.scopes.length ? pr.scopes.join(', ') : pr.kind === 'key' ? '(none: the key is not narrowed)' : '(none)');
      row('amr', `${pr.amr.join(', ') || '(none)'}${pr.authTime !== undefined ? `  authenticated ${Math.floor(o.now / 1000) - pr.authTime} s ago` : ''}`);
    }
    row('from', `${o.ip}${q.ip === undefined ? ' (default)' : ''} at ${new Date(o.now).toISOString()}`);
    if (pr.kind !== 'anonymous') row('store', q.roles ? 'not consulted (roles given)' : describeStore(ctx.store.status));
    for (const n of p.notes) row('note', n);
  }
  lines.push('');
  const d = o.decision;
  row('decision', summary(d).replace(/^(allow|deny)/, (w) => w.toUpperCase()));
  if (d.stage === 'authn') row('', 'refused by authentication, before authorization');
  if (!d.allowed || d.shadow || d.obligation) row('reason', d.reason);
  for (const [name, value] of Object.entries(d.error?.headers ?? {})) row('', `${name}: ${value}`);
  if (m.ok && ctx.policy.enabled) {
    lines.push('');
    if (!o.trace.length) lines.push(`No rule covers ${q.method} on route ${m.route.id}: default deny.`);
    else {
      const rows: string[][] = [];
      for (const t of o.trace) {
        const verdict = `${t.allowed ? 'allows' : 'fails'}${t.rule.mode === 'shadow' ? ' (shadow)' : ''}`;
        t.checks.forEach((c, i) => rows.push([i === 0 ? t.rule.id : '', i === 0 ? verdict : '', c.check, c.ok ? 'ok' : 'FAIL', c.detail]));
        const r = t.rule.ownership?.response;
        if (t.allowed && r) rows.push(['', '', 'response', d.rule === t.rule && d.obligation === 'checked' ? (d.error ? 'FAIL' : 'ok') : 'due', `${r.text} must be the caller's ${t.rule.ownership?.attribute}`]);
      }
      lines.push(table(['RULE', 'VERDICT', 'CHECK', 'RESULT', 'DETAIL'], rows).trimEnd());
    }
  }
  return lines.join('\n') + '\n';
}
