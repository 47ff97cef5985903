/**
 * Reads a V8 .cpuprofile (node --cpu-prof) and says where the time went: self time by area
 * (Rampart source file, npm package, Node internals module, GC, idle) and the top functions.
 *
 *   node bench/profile-summary.ts FILE.cpuprofile [--top 30]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileSummary {
  /** Inclusive time of Rampart's own functions (src/), the callees' time counted in. */
  readonly inclusive: ReadonlyArray<{ fn: string; where: string; ms: number; share: number }>;
  /** Sampled time, ms (idle included). */
  readonly totalMs: number;
  /** Sampled time, ms, without idle. */
  readonly busyMs: number;
  readonly areas: ReadonlyArray<{ area: string; ms: number; share: number }>;
  readonly functions: ReadonlyArray<{ fn: string; where: string; ms: number; share: number }>;
}

/** Groups a script URL: src/<file>, an npm package, node:<module>, or a V8 pseudo-frame. */
export function areaOf(url: string, functionName: string): string {
  if (!url) {
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)') return functionName;
    return '(native)';
  }
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return `npm:${pkg[1]}`;
  if (url.startsWith('node:')) return url.replace(/^node:internal\//, 'node:').replace(/\/.*$/, '');
  const src = /\/(src|bench)\/(.+)$/.exec(url);
  if (src) return `${src[1]}/${src[2]}`;
  return url;
}

export function summarise(profile: Profile, top = 30): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const areas = new Map<string, number>();
  const fns = new Map<string, { where: string; us: number }>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of self) {
    const node = byId.get(id);
    if (!node) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    total += us;
    if (functionName === '(idle)') idle += us;
    const area = areaOf(url, functionName);
    areas.set(area, (areas.get(area) ?? 0) + us);
    const name = functionName || '(anonymous)';
    const key = `${name} ${url}:${lineNumber}`;
    const prev = fns.get(key);
    fns.set(key, { where: `${area}:${lineNumber + 1}`, us: (prev?.us ?? 0) + us });
  }
  // Inclusive time: each sample counts once for every distinct src/ function on its stack.
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const incl = new Map<string, { where: string; us: number }>();
  profile.samples.forEach((leaf, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    const seen = new Set<string>();
    for (let id: number | undefined = leaf; id !== undefined; id = parent.get(id)) {
      const f = byId.get(id)?.callFrame;
      if (!f || !/\/src\//.test(f.url)) continue;
      const key = `${f.functionName || '(anonymous)'} ${f.url}:${f.lineNumber}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const prev = incl.get(key);
      incl.set(key, { where: `${areaOf(f.url, f.functionName)}:${f.lineNumber + 1}`, us: (prev?.us ?? 0) + dt });
    }
  });
  const busy = total - idle;
  const share = (us: number) => (busy > 0 ? us / busy : 0);
  return {
    inclusive: [...incl]
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([key, v]) => ({ fn: key.slice(0, key.indexOf(' ')), where: v.where, ms: v.us / 1000, share: share(v.us) })),
    totalMs: total / 1000,
    busyMs: busy / 1000,
    areas: [...areas]
      .filter(([a]) => a !== '(idle)')
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, ms: us / 1000, share: share(us) })),
    functions: [...fns]
      .filter(([k]) => !k.startsWith('(idle)'))
      .sort((a, b) => b[1].us - a[1].us)
      .slice(0, top)
      .map(([key, v]) => ({ fn: key.slice(0, key.indexOf(' ')), where: v.where, ms: v.us / 1000, share: share(v.us) })),
  };
}

export function formatSummary(s: ProfileSummary, topAreas = 25): string {
  const pct = (x: number) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const lines = [`busy ${s.busyMs.toFixed(0)} ms of ${s.totalMs.toFixed(0)} ms sampled (shares below are of busy time)`, '', 'self time by area:'];
  for (const a of s.areas.slice(0, topAreas)) lines.push(`  ${pct(a.share)}  ${a.area}`);
  lines.push('', 'top functions (self time):');
  for (const f of s.functions) lines.push(`  ${pct(f.share)}  ${f.fn}  ${f.where}`);
  lines.push('', "Rampart's functions, inclusive time (callees counted in):");
  for (const f of s.inclusive) lines.push(`  ${pct(f.share)}  ${f.fn}  ${f.where}`);
  return lines.join('\n');
}

if (import.meta.main) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '30' } } });
  const file = positionals[0];
  if (!file) {
    process.stderr.write('usage: node bench/profile-summary.ts FILE.cpuprofile [--top N]\n');
    process.exit(2);
  }
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  process.stdout.write(formatSummary(summarise(profile, Number(values.top))) + '\n');
}
