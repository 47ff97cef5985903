/**
 * The benchmark's figures: medians over rounds per target, the ratios the issue asks for, the
 * console table, and the generated section of docs/performance.md (between the bench markers).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

export type TargetId = 'direct' | 'node-http' | 'node-https' | 'rampart-insecure' | 'rampart-https' | 'nginx-http' | 'nginx-https';

export const TARGET_LABELS: Record<TargetId, string> = {
  direct: '(a) upstream, direct (HTTP)',
  'node-http': '(b) node:http + undici',
  'node-https': '(b) node:https + undici',
  'rampart-insecure': '(c) Rampart, insecure listener (HTTP)',
  'rampart-https': '(c) Rampart, HTTPS',
  'nginx-http': '(d) nginx, HTTP',
  'nginx-https': '(d) nginx, HTTPS',
};

export interface RoundResult {
  readonly round: number;
  readonly target: TargetId;
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
  /** CPU of the process in front (the upstream itself for `direct`), µs per request. */
  readonly serverCpuUsPerReq: number | null;
  /** CPU of the upstream process, µs per request. */
  readonly upstreamCpuUsPerReq: number | null;
  /** Share of one core the process in front used during the round. */
  readonly serverCores: number | null;
  /** Cores busy with anything else meanwhile (load generator, the bench, other tenants). */
  readonly otherCores: number | null;
}

export interface TargetSummary {
  readonly target: TargetId;
  readonly label: string;
  readonly rounds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly serverCpuUsPerReq: number | null;
  readonly serverCpuRange: readonly [number, number] | null;
  readonly upstreamCpuUsPerReq: number | null;
  readonly serverCores: number | null;
  readonly non2xx: number;
  readonly errors: number;
}

export interface Ratio {
  readonly label: string;
  readonly of: TargetId;
  readonly to: TargetId;
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  /** For `direct`: the proxy's CPU per request over the upstream's own CPU per request. */
  readonly cpu: number | null;
}

export interface Facts {
  readonly date: string;
  readonly nproc: number;
  readonly cpuModel: string;
  readonly kernel: string;
  readonly node: string;
  readonly tool: string;
  readonly nginx: string | null;
  readonly rampartCommit: string;
  readonly command: string;
  readonly connections: number;
  readonly threads: number;
  readonly durationSeconds: number;
  readonly rounds: number;
  readonly tls: Partial<Record<TargetId, string>>;
  /** 1-minute load average when the rounds started and when they ended. */
  readonly loadAverage: readonly [number, number];
  /** Median over all rounds of the cores busy with anything but the measured servers. */
  readonly otherCores: number | null;
  readonly notes: readonly string[];
}

export const CPU_TARGET = 1.2;

export { median };

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

export function summariseRounds(results: readonly RoundResult[], targets: readonly TargetId[]): TargetSummary[] {
  return targets.map((target) => {
    const rs = results.filter((r) => r.target === target);
    const cpu = rs.map((r) => r.serverCpuUsPerReq).filter((x): x is number => x !== null);
    const up = rs.map((r) => r.upstreamCpuUsPerReq).filter((x): x is number => x !== null);
    const cores = rs.map((r) => r.serverCores).filter((x): x is number => x !== null);
    return {
      target,
      label: TARGET_LABELS[target],
      rounds: rs.length,
      rps: median(rs.map((r) => r.rps)),
      p50Ms: median(rs.map((r) => r.p50Ms)),
      p99Ms: median(rs.map((r) => r.p99Ms)),
      serverCpuUsPerReq: cpu.length ? median(cpu) : null,
      serverCpuRange: cpu.length ? [Math.min(...cpu), Math.max(...cpu)] : null,
      upstreamCpuUsPerReq: up.length ? median(up) : null,
      serverCores: cores.length ? median(cores) : null,
      non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
      errors: rs.reduce((n, r) => n + r.errors, 0),
    };
  });
}

const RATIOS: ReadonlyArray<readonly [string, TargetId, TargetId]> = [
  ['Rampart HTTPS ÷ node:https twin (b)', 'rampart-https', 'node-https'],
  ['Rampart insecure ÷ node:http baseline (b)', 'rampart-insecure', 'node-http'],
  ['Rampart HTTPS ÷ nginx HTTPS (d)', 'rampart-https', 'nginx-https'],
  ['Rampart insecure ÷ nginx HTTP (d)', 'rampart-insecure', 'nginx-http'],
  ['Rampart HTTPS ÷ direct (a)', 'rampart-https', 'direct'],
  ['Rampart insecure ÷ direct (a)', 'rampart-insecure', 'direct'],
  ['node:http baseline ÷ direct (a)', 'node-http', 'direct'],
  ['nginx HTTP ÷ direct (a)', 'nginx-http', 'direct'],
  ['node:http baseline ÷ nginx HTTP (d)', 'node-http', 'nginx-http'],
];

export function ratios(summaries: readonly TargetSummary[]): Ratio[] {
  const by = new Map(summaries.map((s) => [s.target, s]));
  const out: Ratio[] = [];
  for (const [label, of, to] of RATIOS) {
    const a = by.get(of);
    const b = by.get(to);
    if (!a || !b) continue;
    const cpuA = a.serverCpuUsPerReq;
    const cpuB = b.serverCpuUsPerReq;
    out.push({ label, of, to, rps: a.rps / b.rps, p50: a.p50Ms / b.p50Ms, p99: a.p99Ms / b.p99Ms, cpu: cpuA !== null && cpuB !== null ? cpuA / cpuB : null });
  }
  return out;
}

// ---- formatting ----

const int = (x: number) => Math.round(x).toLocaleString('en-US');
const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
const us = (x: number | null) => (x === null ? 'n/a' : x.toFixed(1));
const times = (x: number | null) => (x === null || !Number.isFinite(x) ? 'n/a' : `${x.toFixed(2)}×`);

function flag(s: TargetSummary): string {
  const bad = s.non2xx + s.errors;
  return bad > 0 ? ` ⚠ ${s.non2xx} non-2xx, ${s.errors} socket errors` : '';
}

export function targetRows(summaries: readonly TargetSummary[]): string[][] {
  return summaries.map((s) => [
    s.label + flag(s),
    int(s.rps),
    ms(s.p50Ms),
    ms(s.p99Ms),
    s.serverCpuRange ? `${us(s.serverCpuUsPerReq)} (${us(s.serverCpuRange[0])}–${us(s.serverCpuRange[1])})` : 'n/a',
    s.serverCores === null ? 'n/a' : s.serverCores.toFixed(2),
    s.target === 'direct' ? '—' : us(s.upstreamCpuUsPerReq),
  ]);
}

const TARGET_HEAD = ['target', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req (min–max)', 'cores used', 'upstream CPU µs/req'];
const RATIO_HEAD = ['comparison', 'req/s', 'p50', 'p99', 'CPU µs/req'];

export function ratioRows(rs: readonly Ratio[]): string[][] {
  return rs.map((r) => {
    let cpu = times(r.cpu);
    if (r.to === 'direct' && r.cpu !== null) cpu += ' of an upstream request';
    if (r.to.startsWith('node-') && r.of.startsWith('rampart-') && r.cpu !== null) cpu += r.cpu <= CPU_TARGET ? ' ✓ (target ≤ 1.2×)' : ' ✗ (target ≤ 1.2×)';
    return [r.label, times(r.rps), times(r.p50), times(r.p99), cpu];
  });
}

export function textTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function mdTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const align = head.map((_, i) => (i === 0 ? ':---' : '---:'));
  return [head, align, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export function consoleReport(summaries: readonly TargetSummary[], rs: readonly Ratio[]): string {
  return `${textTable(TARGET_HEAD, targetRows(summaries))}\n\n${textTable(RATIO_HEAD, ratioRows(rs))}\n`;
}

export function markdownSection(summaries: readonly TargetSummary[], rs: readonly Ratio[], f: Facts): string {
  const lines = [
    `_Generated by \`${f.command}\` on ${f.date}; rewritten by each full run — do not edit by hand._`,
    '',
    `Machine: ${f.nproc} CPUs (${f.cpuModel}), Linux ${f.kernel}, Node ${f.node}, ${f.tool}${f.nginx ? `, ${f.nginx}` : ''}; Rampart at ${f.rampartCommit}.`,
    `Load: ${f.connections} keep-alive connections, ${f.threads} client thread(s), ${f.rounds} interleaved round(s) of ${f.durationSeconds} s per target; figures are medians over the rounds. ` +
      `Machine load average ${f.loadAverage[0].toFixed(2)} at the start, ${f.loadAverage[1].toFixed(2)} at the end; ` +
      `besides the measured servers, ${f.otherCores === null ? 'n/a' : f.otherCores.toFixed(2)} cores were busy (median; the load generator and anything else running).`,
    '',
    mdTable(TARGET_HEAD, targetRows(summaries)),
    '',
    mdTable(RATIO_HEAD, ratioRows(rs)),
  ];
  const tls = Object.entries(f.tls);
  if (tls.length > 0) lines.push('', `TLS negotiated (probe from Node): ${tls.map(([t, v]) => `${TARGET_LABELS[t as TargetId]}: ${v}`).join('; ')}.`);
  for (const n of f.notes) lines.push('', `Note: ${n}`);
  return lines.join('\n');
}

export const START = '<!-- bench:start -->';
export const END = '<!-- bench:end -->';

/** Replaces the generated section of the doc (appends it when the markers are missing). */
export function rewriteDoc(file: string, section: string): void {
  const body = `${START}\n${section}\n${END}`;
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const a = text.indexOf(START);
  const b = text.indexOf(END);
  const next = a !== -1 && b > a ? text.slice(0, a) + body + text.slice(b + END.length) : `${text}${text.endsWith('\n') || text === '' ? '' : '\n'}\n${body}\n`;
  writeFileSync(file, next);
}
