/**
 * `rampart policy test TABLE.yaml`: a table of expected decisions, each row answered exactly as
 * `explain` answers it (decision.ts), one PASS/FAIL line per row with the difference, then a
 * summary. Exit 0 when every row passes, 1 on any mismatch, 2 when the table is malformed (every
 * problem named by file:line and key, as config errors are).
 *
 * A row whose rule must also hold the upstream's answer (response ownership) gives that answer as
 * `response:`; without it, an allow by such a rule reads "allow (response must belong to the caller)".
 */
import { readFile } from 'node:fs/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { LineCounter, parseDocument } from 'yaml';
import { ajvMessage, formatPath, formatProblem, locate, type ConfigProblem, type Segment } from '../../config/load.ts';
import { METHODS } from '../../stages/authz/config.ts';
import { answer, summary, type PolicyContext, type Question } from './decision.ts';
import { formatAs, issuerOf, parseAs, PrincipalError } from './principal.ts';
import { parseAt, parseIp } from './input.ts';

export interface TableRow {
  readonly name?: string;
  readonly as: string;
  readonly issuer?: string;
  readonly roles?: string[];
  readonly scopes?: string[];
  readonly amr?: string[];
  readonly authAge?: number;
  readonly ip?: string;
  readonly at?: string;
  readonly method: string;
  readonly path: string;
  readonly query?: string;
  readonly host?: string;
  readonly body?: unknown;
  readonly response?: unknown;
  readonly expect: 'allow' | 'deny';
  readonly status?: number;
  readonly code?: string;
  readonly rule?: string;
}

const strings = (pattern: string, message: string) => ({ type: 'array', uniqueItems: true, maxItems: 100, items: { type: 'string', pattern, 'x-message': message } });

const TABLE_SCHEMA = {
  type: 'array',
  minItems: 1,
  maxItems: 10_000,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['as', 'method', 'path', 'expect'],
    properties: {
      name: { type: 'string', maxLength: 200 },
      as: { type: 'string', minLength: 1, maxLength: 300 },
      issuer: { type: 'string', pattern: '^[a-z0-9][a-z0-9._-]{0,62}$', 'x-message': 'must be an issuer id (builtin, api-keys or an authentication.issuers id)' },
      roles: strings('^[A-Za-z0-9][A-Za-z0-9:._-]{0,127}$', 'must be a role name'),
      scopes: strings('^[\\x21\\x23-\\x5B\\x5D-\\x7E]{1,256}$', 'must be a scope'),
      amr: strings('^[A-Za-z0-9_-]{1,32}$', 'must be an amr value like pwd or otp'),
      authAge: { type: 'integer', minimum: 0, maximum: 315_360_000 },
      ip: { type: 'string', maxLength: 64 },
      at: { type: 'string', maxLength: 64 },
      method: { enum: [...METHODS] },
      path: { type: 'string', pattern: '^/', maxLength: 8192, 'x-message': 'must be a path starting with /' },
      query: { type: 'string', maxLength: 8192 },
      host: { type: 'string', minLength: 1, maxLength: 300 },
      body: {},
      response: {},
      expect: { enum: ['allow', 'deny'] },
      status: { type: 'integer', minimum: 100, maximum: 599 },
      code: { type: 'string', pattern: '^RAMPART_[A-Z0-9_]+$', 'x-message': 'must be an error code like RAMPART_AUTHZ_DENIED' },
      rule: { type: 'string', minLength: 1, maxLength: 63 },
    },
  },
} as const;

export class TableError extends Error {
  readonly problems: readonly ConfigProblem[];
  constructor(problems: readonly ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }
}

export interface LoadedTable {
  readonly rows: readonly { readonly row: TableRow; readonly line: number; readonly question: Question }[];
}

/** Reads and checks a table: YAML with positions, a strict schema, then each row's values. */
export async function loadTable(file: string, ctx: PolicyContext): Promise<LoadedTable> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : 'cannot be read';
    throw new TableError([{ file, line: 0, col: 0, path: '', message: why, severity: 'error' }]);
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, strict: true });
  const problems: ConfigProblem[] = [];
  const at = (segments: readonly Segment[], message: string, preferKey = false) => {
    const { line, col } = locate(doc, lc, segments, preferKey);
    problems.push({ file, line, col, path: formatPath(segments), message, severity: 'error' });
  };
  for (const e of doc.errors) {
    const pos = lc.linePos(e.pos[0]);
    problems.push({ file, line: pos.line, col: pos.col, path: '', message: e.message.split('\n')[0] ?? 'YAML error', severity: 'error' });
  }
  if (problems.length) throw new TableError(problems);
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    throw new TableError([{ file, line: 1, col: 1, path: '', message: (err as Error).message, severity: 'error' }]);
  }
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, verbose: true });
  ajv.addVocabulary(['x-message']);
  const validate = ajv.compile(TABLE_SCHEMA);
  if (!validate(data)) {
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      const m = ajvMessage(e);
      const message = m.segments.length === 0 && e.keyword === 'type' ? 'the table must be a YAML list of rows' : m.message;
      const key = `${formatPath(m.segments)}|${message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      at(m.segments, message, m.preferKey);
    }
    throw new TableError(problems.sort((a, b) => a.line - b.line || a.col - b.col));
  }

  const ruleIds = new Set(ctx.policy.rules.map((r) => r.id));
  const rows: { row: TableRow; line: number; question: Question }[] = [];
  (data as TableRow[]).forEach((row, i) => {
    const start = problems.length;
    const as = parseAs(row.as);
    if (typeof as === 'string') at([i, 'as'], as);
    else if (as.kind !== 'anonymous') {
      try {
        issuerOf(ctx.root, as, row.issuer);
      } catch (err) {
        if (!(err instanceof PrincipalError)) throw err;
        at([i, row.issuer !== undefined ? 'issuer' : 'as'], err.message);
      }
    }
    const when = row.at !== undefined ? parseAt(row.at) : undefined;
    if (typeof when === 'string') at([i, 'at'], when);
    const ip = row.ip !== undefined ? parseIp(row.ip) : undefined;
    if (typeof ip === 'object') at([i, 'ip'], ip.error);
    if (row.rule !== undefined && !ruleIds.has(row.rule)) at([i, 'rule'], `no rule "${row.rule}" in authorization.rules`);
    if (row.expect === 'allow') {
      for (const k of ['status', 'code'] as const) if (row[k] !== undefined) at([i, k], `only a denial has a ${k}: remove it or expect deny`, true);
    }
    if (row.path.includes('?') && row.query !== undefined) at([i, 'path'], 'give the query string either in path or in query, not both');
    if (problems.length > start || typeof as === 'string') return;
    const q = row.path.indexOf('?');
    const question: Question = {
      as, method: row.method,
      path: q === -1 ? row.path : row.path.slice(0, q),
      ...(q !== -1 ? { query: row.path.slice(q + 1) } : row.query !== undefined ? { query: row.query } : {}),
      ...(row.host !== undefined ? { host: row.host } : {}),
      ...(row.issuer !== undefined ? { issuer: row.issuer } : {}),
      ...(row.roles ? { roles: row.roles } : {}),
      ...(row.scopes ? { scopes: row.scopes } : {}),
      ...(row.amr ? { amr: row.amr } : {}),
      ...(row.authAge !== undefined ? { authAge: row.authAge } : {}),
      ...(typeof ip === 'string' ? { ip } : {}),
      ...(typeof when === 'number' ? { at: when } : {}),
      ...(row.body !== undefined ? { body: row.body } : {}),
      ...(row.response !== undefined ? { response: { value: row.response } } : {}),
    };
    rows.push({ row, line: locate(doc, lc, [i]).line, question });
  });
  if (problems.length) throw new TableError(problems);
  return { rows };
}

export interface RowResult {
  readonly line: number;
  readonly row: TableRow;
  readonly pass: boolean;
  readonly got: string;
  readonly differences: readonly string[];
}

export async function runTable(ctx: PolicyContext, file: string, json: boolean, out: (t: string) => void): Promise<number> {
  const table = await loadTable(file, ctx);
  const results: RowResult[] = [];
  for (const { row, line, question } of table.rows) {
    const o = await answer(ctx, question);
    const d = o.decision;
    const differences: string[] = [];
    const got = summary(d);
    if ((row.expect === 'allow') !== d.allowed) differences.push(`expected ${row.expect}, got ${got}`);
    else if (row.expect === 'deny') {
      if (row.status !== undefined && row.status !== d.error?.status) differences.push(`expected status ${row.status}, got ${d.error?.status}`);
      if (row.code !== undefined && row.code !== d.error?.code) differences.push(`expected code ${row.code}, got ${d.error?.code}`);
    }
    if (row.rule !== undefined && row.rule !== d.rule?.id) differences.push(`expected rule ${row.rule}, got ${d.rule ? `rule ${d.rule.id}` : 'no rule'}`);
    results.push({ line, row, pass: differences.length === 0, got, differences });
  }
  const failed = results.filter((r) => !r.pass).length;
  if (json) {
    out(JSON.stringify({
      file, rows: results.length, passed: results.length - failed, failed,
      results: results.map((r) => ({ line: r.line, ...(r.row.name ? { name: r.row.name } : {}), as: r.row.as, method: r.row.method, path: r.row.path, expect: r.row.expect, pass: r.pass, got: r.got, differences: r.differences })),
    }, null, 2) + '\n');
  } else {
    for (const r of results) {
      const what = `${r.row.name ? `${r.row.name}: ` : ''}${formatAs(parseAs(r.row.as) as Exclude<ReturnType<typeof parseAs>, string>)} ${r.row.method} ${r.row.path}${r.row.query !== undefined ? `?${r.row.query}` : ''}`;
      out(r.pass ? `PASS  ${file}:${r.line}  ${what} → ${r.got}\n` : `FAIL  ${file}:${r.line}  ${what}: ${r.differences.join('; ')}\n`);
    }
    out(`\n${results.length} rows: ${results.length - failed} passed, ${failed} failed\n`);
  }
  return failed ? 1 : 0;
}
