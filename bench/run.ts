/**
 * `npm run bench`: Rampart against (a) the upstream directly, (b) a minimal node:http + undici
 * proxy and its node:https twin, (d) nginx (HTTP and HTTPS) when it is installed or installable,
 * on this machine, over loopback, in interleaved rounds. Reports req/s, p50/p99 and the CPU µs per
 * request of the process in front of the upstream (from /proc), as ratios; writes
 * bench/results/<timestamp>.json and rewrites the generated section of docs/performance.md.
 * Every process it starts is stopped at the end, on error and on Ctrl-C.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parseDocument } from 'yaml';
import { pickLoadTool, ensureDebian, type LoadTool } from './load.ts';
import { findNginx, nginxVersion, startNginx } from './nginx.ts';
import { cpuMicros, machineBusyMicros, freePort, isRunning, logTail, killAllNow, procAvailable, processTree, readyLine, spawnChild, stopAll, stopChild, waitFor, type Child } from './procs.ts';
import { formatSummary, summarise } from './profile-summary.ts';
import { consoleReport, markdownSection, median, ratios, rewriteDoc, summariseRounds, TARGET_LABELS, type Facts, type RoundResult, type TargetId } from './report.ts';
import { UPSTREAM_BODY } from './upstream.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const BENCH = join(ROOT, 'bench');
const ALL_TARGETS: readonly TargetId[] = ['direct', 'node-http', 'node-https', 'rampart-insecure', 'rampart-https', 'nginx-http', 'nginx-https'];
const PATH = '/hello';

const USAGE = `Usage: npm run bench -- [options]

  --duration S       seconds per round and target (default 10)
  --rounds N         interleaved rounds (default 3)
  --connections N    keep-alive connections of the load generator (default 64)
  --threads N        wrk threads (default 1: leaves the cores to the servers)
  --warmup S         warm-up seconds per target before the rounds (default 3)
  --quick            smoke run: 2 s, 1 round, 1 s warm-up; does not touch docs/performance.md
  --targets LIST     comma-separated subset of: ${ALL_TARGETS.join(', ')}
  --tool wrk|autocannon   load generator (default: wrk, installed with apt-get when missing)
  --no-install       never apt-get wrk or nginx
  --no-nginx         skip the nginx targets
  --no-docs          do not rewrite docs/performance.md (full runs rewrite it by default)
  --cpu-prof         run Rampart under --cpu-prof and print where its CPU went (implies --no-docs)
  --config FILE      Rampart config template instead of bench/rampart.yaml (same listeners and upstream)
  --rampart-root DIR another Rampart checkout to measure (A/B a branch; default: this one)
  --commit REF       measure that commit of this repository (exported with git archive) instead of
                     the working tree
  --keep-temp        keep the temporary directory (configs, logs) after the run
  --help             this text
`;

interface Options {
  durationSeconds: number;
  rounds: number;
  connections: number;
  threads: number;
  warmupSeconds: number;
  quick: boolean;
  targets: TargetId[];
  tool: 'wrk' | 'autocannon' | undefined;
  install: boolean;
  nginx: boolean;
  docs: boolean;
  cpuProf: boolean;
  keepTemp: boolean;
  commit: string | undefined;
  config: string;
  rampartRoot: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      warmup: { type: 'string' },
      quick: { type: 'boolean', default: false },
      targets: { type: 'string' },
      tool: { type: 'string' },
      'no-install': { type: 'boolean', default: false },
      'no-nginx': { type: 'boolean', default: false },
      'no-docs': { type: 'boolean', default: false },
      'cpu-prof': { type: 'boolean', default: false },
      'keep-temp': { type: 'boolean', default: false },
      commit: { type: 'string' },
      config: { type: 'string' },
      'rampart-root': { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const num = (v: string | undefined, dflt: number, name: string, min: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`);
    return n;
  };
  const quick = values.quick;
  const targets = values.targets === undefined ? [...ALL_TARGETS] : values.targets.split(',').map((t) => t.trim());
  for (const t of targets) if (!ALL_TARGETS.includes(t as TargetId)) throw new UsageError(`unknown target "${t}"`);
  if (values.tool !== undefined && values.tool !== 'wrk' && values.tool !== 'autocannon') throw new UsageError('--tool is wrk or autocannon');
  return {
    durationSeconds: num(values.duration, quick ? 2 : 10, 'duration', 1),
    rounds: num(values.rounds, quick ? 1 : 3, 'rounds', 1),
    connections: num(values.connections, 64, 'connections', 1),
    threads: num(values.threads, 1, 'threads', 1),
    warmupSeconds: num(values.warmup, quick ? 1 : 3, 'warmup', 0),
    quick,
    targets: targets as TargetId[],
    tool: values.tool as Options['tool'],
    install: !values['no-install'],
    nginx: !values['no-nginx'],
    docs: !quick && !values['no-docs'] && !values['cpu-prof'] && values.config === undefined && values['rampart-root'] === undefined,
    cpuProf: values['cpu-prof'],
    keepTemp: values['keep-temp'],
    commit: values.commit,
    config: resolve(values.config ?? join(BENCH, 'rampart.yaml')),
    rampartRoot: resolve(values['rampart-root'] ?? ROOT),
  };
}

class UsageError extends Error {}

interface Endpoint {
  readonly target: TargetId;
  readonly url: string;
  /** The processes in front of the upstream (the upstream itself for `direct`). */
  readonly pids: number[];
  readonly child: Child;
}

/** GET the bench path once: 200 with the upstream's body, or throws. Returns the TLS facts. */
function probe(url: string, ca: Buffer | undefined): Promise<string | undefined> {
  return new Promise((resolveProbe, reject) => {
    const u = new URL(url);
    const secure = u.protocol === 'https:';
    const opts = { method: 'GET', agent: false as const, timeout: 5_000, ...(secure && ca ? { ca, servername: 'localhost' } : {}) };
    const req = (secure ? https : http).request(u, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        if (res.statusCode !== 200) return reject(new Error(`${url}: status ${res.statusCode}: ${body.toString('utf8').slice(0, 300)}`));
        if (!body.equals(UPSTREAM_BODY)) return reject(new Error(`${url}: the body differs from the upstream's`));
        if (!secure) return resolveProbe(undefined);
        const s = res.socket as TLSSocket;
        resolveProbe(`${s.getProtocol() ?? '?'} ${s.getCipher().standardName}`);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

function gitCommit(root: string): string {
  try {
    const sha = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return dirty ? `${sha} (with uncommitted changes under src/)` : sha;
  } catch {
    return 'unknown';
  }
}

/** The effective Rampart config: bench/rampart.yaml with this run's ports and data directory. */
function writeRampartConfig(template: string, file: string, ports: { https: number; http: number; upstream: number }, dataDir: string): void {
  const doc = parseDocument(readFileSync(template, 'utf8'));
  doc.set('dataDir', dataDir);
  const listeners = doc.get('listeners') as { items: Array<{ get(k: string): unknown; set(k: string, v: unknown): void }> };
  for (const l of listeners.items) l.set('port', l.get('protocol') === 'https' ? ports.https : ports.http);
  doc.setIn(['upstreams', 0, 'targets', 0, 'url'], `http://127.0.0.1:${ports.upstream}`);
  writeFileSync(file, doc.toString());
}

/** An error naming the server that died during a round (with its log), if one did. */
function crashed(e: Endpoint, upstream: Child): Error | undefined {
  for (const c of [e.child, upstream]) {
    if (!isRunning(c)) return new Error(`${c.name} exited during the round against ${TARGET_LABELS[e.target]}; its log (${c.logFile}) ends with:\n${logTail(c)}`);
  }
  return undefined;
}

let interrupted = false;
let currentLoad: Child | undefined;

async function main(argv: string[]): Promise<number> {
  let o: Options;
  try {
    o = parseOptions(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const onSignal = (sig: NodeJS.Signals) => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\nbench: ${sig}: stopping every process it started\n`);
    currentLoad?.proc.kill('SIGTERM');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', killAllNow);

  const tmp = mkdtempSync(join(os.tmpdir(), 'rampart-bench-'));
  let failed = false;
  try {
    return await runBench(o, tmp);
  } catch (err) {
    failed = true;
    process.stderr.write(`bench: ${interrupted ? 'interrupted' : `failed: ${err instanceof Error ? err.message : String(err)}`}\n`);
    return interrupted ? 130 : 1;
  } finally {
    await stopAll();
    if (o.keepTemp || (failed && !interrupted)) process.stderr.write(`bench: temporary files (configs, logs) kept in ${tmp}\n`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

async function runBench(o: Options, tmp: string): Promise<number> {
  const notes: string[] = [];
  const check = () => {
    if (interrupted) throw new Error('interrupted');
  };
  if (!procAvailable()) notes.push('/proc is not available: CPU per request is not measured.');

  const tool: LoadTool | undefined = pickLoadTool(o.tool, o.install);
  if (!tool) throw new Error('no load generator: install wrk (apt-get install wrk) or allow npx to fetch autocannon');

  let targets = o.targets;
  let nginxBin: string | undefined;
  if (targets.some((t) => t.startsWith('nginx-'))) {
    if (o.nginx && ensureDebian('nginx', 'nginx', o.install, ['/usr/sbin/nginx'])) nginxBin = findNginx();
    if (!nginxBin) {
      targets = targets.filter((t) => !t.startsWith('nginx-'));
      notes.push(o.nginx ? 'nginx is not installed and could not be installed here: the nginx columns are skipped.' : 'nginx skipped (--no-nginx).');
      process.stderr.write(`bench: ${notes.at(-1)}\n`);
    }
  }

  // What is measured: the working tree, another checkout, or a commit exported from git.
  let rampartRoot = o.rampartRoot;
  let rampartCommit = gitCommit(rampartRoot) + (rampartRoot === ROOT ? '' : ` in ${rampartRoot}`);
  if (o.commit !== undefined) {
    rampartRoot = join(tmp, 'rampart-src');
    mkdirSync(rampartRoot);
    const tar = execFileSync('git', ['archive', '--format=tar', o.commit, 'src', 'package.json'], { cwd: o.rampartRoot, maxBuffer: 1 << 30 });
    execFileSync('tar', ['-x', '-C', rampartRoot], { input: tar });
    symlinkSync(join(o.rampartRoot, 'node_modules'), join(rampartRoot, 'node_modules'));
    rampartCommit = execFileSync('git', ['rev-parse', '--short', `${o.commit}^{commit}`], { cwd: o.rampartRoot, encoding: 'utf8' }).trim();
  }

  const node = process.execPath;
  const ports = {
    upstream: await freePort(),
    rampartHttps: await freePort(),
    rampartHttp: await freePort(),
    nodeHttp: await freePort(),
    nodeHttps: await freePort(),
    nginxHttp: await freePort(),
    nginxHttps: await freePort(),
  };

  // The upstream.
  process.stderr.write('bench: starting the upstream, Rampart, the baseline proxy' + (nginxBin ? ' and nginx' : '') + ' on 127.0.0.1\n');
  const upstream = spawnChild('upstream', node, [join(BENCH, 'upstream.ts'), '--port', String(ports.upstream)], { logFile: join(tmp, 'upstream.log'), pipeStdout: true });
  await readyLine(upstream);
  check();

  // Rampart, from bench/rampart.yaml with this run's ports; its data directory (dev CA) in tmp.
  const dataDir = join(tmp, 'data');
  const rampartConfig = join(tmp, 'rampart.yaml');
  writeRampartConfig(o.config, rampartConfig, { https: ports.rampartHttps, http: ports.rampartHttp, upstream: ports.upstream }, dataDir);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const profDir = join(BENCH, 'results', `cpu-prof-${stamp}`);
  const nodeFlags = o.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const rampart = spawnChild('rampart', node, [...nodeFlags, join(rampartRoot, 'src/cli/main.ts'), 'start', '--config', rampartConfig], {
    logFile: join(tmp, 'rampart.log'),
    // The access log (one JSON line per request) goes to /dev/null: written, never stored.
    discardStdout: true,
    env: { ...process.env, RAMPART_DATA_DIR: dataDir, RAMPART_CONFIG: rampartConfig },
    cwd: rampartRoot,
  });
  const ca = await waitFor('Rampart HTTPS listener', async () => {
    const caPem = readFileSync(join(dataDir, 'tls', 'ca.crt'));
    await probe(`https://127.0.0.1:${ports.rampartHttps}${PATH}`, caPem);
    return caPem;
  }, 60_000, rampart);
  check();
  const certFile = join(dataDir, 'tls', 'localhost.crt');
  const keyFile = join(dataDir, 'tls', 'localhost.key');

  // The baseline proxy (b), with the same certificate and TLS policy.
  const baseline = spawnChild(
    'baseline-proxy',
    node,
    [join(BENCH, 'baseline-proxy.ts'), '--upstream', `http://127.0.0.1:${ports.upstream}`, '--http-port', String(ports.nodeHttp), '--https-port', String(ports.nodeHttps), '--cert', certFile, '--key', keyFile],
    { logFile: join(tmp, 'baseline.log'), pipeStdout: true },
  );
  await readyLine(baseline);
  check();

  // nginx (d).
  let nginx: Child | undefined;
  if (nginxBin) {
    nginx = startNginx({ binary: nginxBin, prefix: join(tmp, 'nginx'), upstreamPort: ports.upstream, httpPort: ports.nginxHttp, httpsPort: ports.nginxHttps, certFile, keyFile });
    await waitFor('nginx', () => probe(`http://127.0.0.1:${ports.nginxHttp}${PATH}`, undefined), 20_000, nginx);
  }
  check();

  const endpoints = new Map<TargetId, Endpoint>();
  const add = (target: TargetId, url: string, child: Child | undefined) => {
    if (child && targets.includes(target)) endpoints.set(target, { target, url, pids: procAvailable() ? processTree(child.pid) : [], child });
  };
  add('direct', `http://127.0.0.1:${ports.upstream}${PATH}`, upstream);
  add('node-http', `http://127.0.0.1:${ports.nodeHttp}${PATH}`, baseline);
  add('node-https', `https://127.0.0.1:${ports.nodeHttps}${PATH}`, baseline);
  add('rampart-insecure', `http://127.0.0.1:${ports.rampartHttp}${PATH}`, rampart);
  add('rampart-https', `https://127.0.0.1:${ports.rampartHttps}${PATH}`, rampart);
  add('nginx-http', `http://127.0.0.1:${ports.nginxHttp}${PATH}`, nginx);
  add('nginx-https', `https://127.0.0.1:${ports.nginxHttps}${PATH}`, nginx);
  const order = targets.filter((t) => endpoints.has(t));
  const upstreamPids = procAvailable() ? processTree(upstream.pid) : [];

  // Every target answers 200 with the upstream's body before anything is measured.
  const tls: Partial<Record<TargetId, string>> = {};
  for (const t of order) {
    const info = await probe((endpoints.get(t) as Endpoint).url, ca);
    if (info) tls[t] = info;
  }

  const runOne = async (e: Endpoint, seconds: number) => {
    const cpu0 = cpuMicros(e.pids);
    const up0 = cpuMicros(upstreamPids);
    const machine0 = machineBusyMicros();
    const t0 = process.hrtime.bigint();
    const r = await tool.run({ url: e.url, connections: o.connections, threads: o.threads, durationSeconds: seconds, workDir: tmp }, (c) => (currentLoad = c)).catch((err: unknown) => {
      throw crashed(e, upstream) ?? err;
    });
    const dead = crashed(e, upstream);
    if (dead) throw dead;
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    currentLoad = undefined;
    check();
    const cpu = cpuMicros(e.pids) - cpu0;
    const up = cpuMicros(upstreamPids) - up0;
    const machine = machineBusyMicros() - machine0;
    const measured = procAvailable() && r.requests > 0;
    return {
      ...r,
      serverCpuUsPerReq: measured ? cpu / r.requests : null,
      upstreamCpuUsPerReq: measured ? up / r.requests : null,
      serverCores: procAvailable() ? cpu / 1e6 / wall : null,
      // Everything else that ran meanwhile: the load generator, this script, other tenants.
      otherCores: procAvailable() ? (machine - cpu - (e.target === 'direct' ? 0 : up)) / 1e6 / wall : null,
    };
  };

  if (o.warmupSeconds > 0) {
    process.stderr.write(`bench: warming up ${order.length} targets, ${o.warmupSeconds} s each\n`);
    for (const t of order) await runOne(endpoints.get(t) as Endpoint, o.warmupSeconds);
  }

  const load0 = os.loadavg()[0] ?? 0;
  if (load0 > os.availableParallelism() / 2) {
    process.stderr.write(`bench: warning: the machine is busy (load average ${load0.toFixed(2)} on ${os.availableParallelism()} CPUs); figures will be noisy\n`);
  }
  const results: RoundResult[] = [];
  for (let round = 1; round <= o.rounds; round++) {
    // Interleaved, and each round starts one target further, so no target always runs first.
    const shift = (round - 1) % order.length;
    const roundOrder = [...order.slice(shift), ...order.slice(0, shift)];
    for (const t of roundOrder) {
      await delay(500);
      const r = await runOne(endpoints.get(t) as Endpoint, o.durationSeconds);
      results.push({ round, target: t, ...r });
      const cpu = r.serverCpuUsPerReq === null ? 'n/a' : `${r.serverCpuUsPerReq.toFixed(1)} µs/req`;
      const other = r.otherCores === null ? '' : `  other ${r.otherCores.toFixed(2)} cores`;
      const bad = r.non2xx + r.errors > 0 ? `  ⚠ ${r.non2xx} non-2xx, ${r.errors} errors` : '';
      process.stderr.write(`  round ${round}/${o.rounds}  ${TARGET_LABELS[t].padEnd(38)} ${Math.round(r.rps).toString().padStart(7)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  CPU ${cpu}${other}${bad}\n`);
    }
  }

  const summaries = summariseRounds(results, order);
  const rs = ratios(summaries);
  const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
  if (os.availableParallelism() <= 2) {
    notes.push(`load generator, proxy and upstream share ${os.availableParallelism()} CPUs, so req/s and latency are bounded by CPU contention; CPU µs/request is the figure to compare.`);
  }
  const facts: Facts = {
    date: new Date().toISOString(),
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
    kernel: os.release(),
    node: process.version,
    tool: `${tool.name} ${tool.version}`,
    nginx: nginxBin ? nginxVersion(nginxBin) : null,
    rampartCommit,
    command,
    connections: o.connections,
    threads: tool.name === 'wrk' ? o.threads : 1,
    durationSeconds: o.durationSeconds,
    rounds: o.rounds,
    tls,
    loadAverage: [load0, os.loadavg()[0] ?? 0],
    otherCores: (() => {
      const xs = results.map((r) => r.otherCores).filter((x): x is number => x !== null);
      return xs.length ? median(xs) : null;
    })(),
    notes,
  };

  process.stdout.write(`\n${consoleReport(summaries, rs)}\n`);
  for (const n of notes) process.stdout.write(`note: ${n}\n`);

  const resultsDir = join(BENCH, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const jsonFile = join(resultsDir, `${stamp}.json`);
  writeFileSync(jsonFile, JSON.stringify({ facts, options: o, summaries, ratios: rs, rounds: results, rampartConfig: readFileSync(rampartConfig, 'utf8') }, null, 2) + '\n');
  process.stdout.write(`results: ${jsonFile}\n`);

  if (o.docs) {
    rewriteDoc(join(ROOT, 'docs', 'performance.md'), markdownSection(summaries, rs, facts));
    process.stdout.write('docs/performance.md: generated section rewritten\n');
  }

  if (o.cpuProf) {
    await stopChild(rampart, 15_000);
    const profiles = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile'));
    for (const f of profiles) {
      const summary = formatSummary(summarise(JSON.parse(readFileSync(join(profDir, f), 'utf8')), 30));
      writeFileSync(join(profDir, f.replace(/\.cpuprofile$/, '.txt')), summary + '\n');
      process.stdout.write(`\nRampart CPU profile (${join(profDir, f)}), whole run incl. start-up and every Rampart round:\n${summary}\n`);
    }
  }
  return 0;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
