/**
 * `rampart policy explain | test | report` (DESIGN.md practice 3): the gateway's own policy
 * compiler (policyOf) and evaluator (decide, with a trace) asked from the command line, so what
 * they say is what the gateway enforces. Exit codes: 0 allowed / every row passed / report
 * written; 1 denied / a row failed; 2 usage errors, a config that does not load, a malformed table.
 */
import { parseArgs } from 'node:util';
import { ConfigError, formatProblem, loadConfig } from '../../config/load.ts';
import { STAGES } from '../../stages/index.ts';
import { processIo, type CliIo } from '../accounts/context.ts';
import { policyContext, type Question } from './decision.ts';
import { runExplain } from './explain.ts';
import { runTable, TableError } from './test-table.ts';
import { runReport } from './report.ts';
import { parseAs, PrincipalError } from './principal.ts';
import { list, parseAt, parseAuthAge, parseBody, parseIp, parseMethod } from './input.ts';

export const POLICY_USAGE = `Usage:
  rampart policy explain --as SUBJECT --method METHOD --path PATH [options]
      why a request would be allowed or denied: the route, the decision (status, code, rule)
      and every rule's checks. Exit 0 allowed, 1 denied.
      --as SUBJECT        user:NAME (or NAME), client:ID, key:ID, or anonymous
      --issuer ID         whose subject it is: builtin (default), an authentication.issuers id
      --roles R1,R2       the caller's roles (default: config bindings + the store's record)
      --scopes S1,S2      the token's scopes (default: every scope the route needs)
      --amr A1,A2         authentication methods (default for users: pwd,otp)
      --auth-age SECONDS  time since the login (default 0)
      --ip ADDRESS        client IP (default 127.0.0.1)
      --at DATE-TIME      when, with an offset: 2026-11-30T10:00:00+01:00 (default: now)
      --query QUERY       the query string, without '?'
      --body JSON         the JSON request body
      --response JSON     the upstream's JSON answer (response ownership)
      --host HOST         the Host header (default: the listener's public origin, or localhost)
      --json              machine-readable output
  rampart policy test TABLE.yaml [--json]
      runs a table of expected decisions. Exit 0 all pass, 1 a row failed, 2 malformed table.
  rampart policy report [--json]
      who can do what, per role: routes, methods, rules and conditions; bindings; lint findings.

Options:
  --config FILE        the config file (default ./rampart.yaml; RAMPART_CONFIG overrides)
`;

const OPTIONS = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  as: { type: 'string' },
  issuer: { type: 'string' },
  method: { type: 'string' },
  path: { type: 'string' },
  roles: { type: 'string' },
  scopes: { type: 'string' },
  amr: { type: 'string' },
  'auth-age': { type: 'string' },
  ip: { type: 'string' },
  at: { type: 'string' },
  body: { type: 'string' },
  response: { type: 'string' },
  query: { type: 'string' },
  host: { type: 'string' },
} as const;

const EXPLAIN_ONLY = ['as', 'issuer', 'method', 'path', 'roles', 'scopes', 'amr', 'auth-age', 'ip', 'at', 'body', 'response', 'query', 'host'];

class UsageError extends Error {}

const ROLE = /^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$/;

function explainQuestion(v: Record<string, string | boolean | undefined>): Question {
  const need = (k: string): string => {
    const x = v[k];
    if (typeof x !== 'string' || x === '') throw new UsageError(`policy explain needs --${k}`);
    return x;
  };
  const as = parseAs(need('as'));
  if (typeof as === 'string') throw new UsageError(`--as: ${as}`);
  const method = parseMethod(need('method'));
  if (typeof method !== 'string') throw new UsageError(`--method: ${method.error}`);
  const rawPath = need('path');
  const q = rawPath.indexOf('?');
  if (q !== -1 && typeof v.query === 'string') throw new UsageError('give the query string either in --path or in --query, not both');
  const str = (k: string) => (typeof v[k] === 'string' ? (v[k] as string) : undefined);
  const roles = str('roles') !== undefined ? list(str('roles') as string) : undefined;
  const badRole = roles?.find((r) => !ROLE.test(r));
  if (badRole !== undefined) throw new UsageError(`--roles: "${badRole.slice(0, 40)}" is not a role name`);
  const at = str('at') !== undefined ? parseAt(str('at') as string) : undefined;
  if (typeof at === 'string') throw new UsageError(`--at: ${at}`);
  const ip = str('ip') !== undefined ? parseIp(str('ip') as string) : undefined;
  if (typeof ip === 'object') throw new UsageError(`--ip: ${ip.error}`);
  const age = str('auth-age') !== undefined ? parseAuthAge(str('auth-age') as string) : undefined;
  if (typeof age === 'string') throw new UsageError(`--auth-age: ${age}`);
  const json = (k: 'body' | 'response') => {
    const t = str(k);
    if (t === undefined) return undefined;
    const r = parseBody(t);
    if (typeof r === 'string') throw new UsageError(`--${k}: ${r}`);
    return r;
  };
  const body = json('body');
  const response = json('response');
  return {
    as, method,
    path: q === -1 ? rawPath : rawPath.slice(0, q),
    ...(q !== -1 ? { query: rawPath.slice(q + 1) } : str('query') !== undefined ? { query: str('query') as string } : {}),
    ...(str('host') !== undefined ? { host: str('host') as string } : {}),
    ...(str('issuer') !== undefined ? { issuer: str('issuer') as string } : {}),
    ...(roles ? { roles } : {}),
    ...(str('scopes') !== undefined ? { scopes: list(str('scopes') as string) } : {}),
    ...(str('amr') !== undefined ? { amr: list(str('amr') as string) } : {}),
    ...(age !== undefined ? { authAge: age } : {}),
    ...(ip !== undefined ? { ip } : {}),
    ...(at !== undefined ? { at } : {}),
    ...(body ? { body: body.value } : {}),
    ...(response ? { response } : {}),
  };
}

export async function runPolicyCommand(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    io.err(`rampart: ${(err as Error).message}\n\n${POLICY_USAGE}`);
    return 2;
  }
  const [, sub, ...positionals] = parsed.positionals;
  const v = parsed.values as Record<string, string | boolean | undefined>;
  if (v.help || sub === 'help') {
    io.out(POLICY_USAGE);
    return 0;
  }
  try {
    if (sub !== 'explain' && sub !== 'test' && sub !== 'report') throw new UsageError(sub === undefined ? 'policy needs a command: explain, test or report' : `unknown policy command "${sub}"`);
    const extra = sub === 'explain' ? [] : Object.keys(v).filter((k) => EXPLAIN_ONLY.includes(k) && v[k] !== undefined);
    if (extra.length) throw new UsageError(`policy ${sub} does not take --${extra.join(', --')}`);
    if (sub === 'test' ? positionals.length !== 1 : positionals.length) throw new UsageError(sub === 'test' ? 'policy test takes one table file' : `policy ${sub} takes no arguments`);
    const question = sub === 'explain' ? explainQuestion(v) : undefined;
    const configFile = (v.config as string | undefined) ?? process.env.RAMPART_CONFIG ?? 'rampart.yaml';
    const ctx = policyContext(await loadConfig(configFile, STAGES));
    try {
      if (question) return await runExplain(ctx, question, v.json === true, io.out);
      if (sub === 'test') return await runTable(ctx, positionals[0] as string, v.json === true, io.out);
      return await runReport(ctx, v.json === true, io.out);
    } finally {
      await ctx.store.close();
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof PrincipalError) {
      io.err(`rampart: ${err.message}\n\n${POLICY_USAGE}`);
      return 2;
    }
    if (err instanceof ConfigError || err instanceof TableError) {
      for (const p of err.problems) io.err(formatProblem(p) + '\n');
      return 2;
    }
    throw err;
  }
}
