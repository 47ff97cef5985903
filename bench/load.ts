/**
 * The load generators: wrk (preferred: C, one thread, little CPU of its own) from Debian, or
 * autocannon (through npx, only when wrk is missing and cannot be installed). Both keep their
 * connections alive, so HTTPS rounds measure requests, not TLS handshakes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnChild, type Child } from './procs.ts';

export const AUTOCANNON = 'autocannon@9.0.0';

export interface LoadOptions {
  readonly url: string;
  readonly connections: number;
  readonly threads: number;
  readonly durationSeconds: number;
  readonly workDir: string;
}

export interface LoadResult {
  /** Responses received in the round. */
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Responses outside 2xx/3xx. */
  readonly non2xx: number;
  /** Connect, read, write errors and timeouts. */
  readonly errors: number;
}

export interface LoadTool {
  readonly name: 'wrk' | 'autocannon';
  readonly version: string;
  run(o: LoadOptions, onStart: (child: Child) => void): Promise<LoadResult>;
}

const has = (bin: string): boolean => spawnSync('sh', ['-c', `command -v ${bin}`], { stdio: 'ignore' }).status === 0;

/**
 * Makes sure a Debian package's binary is there: installs it with apt-get when it is missing,
 * we are root and installing is allowed. Says so on stderr; returns whether the binary exists.
 */
export function ensureDebian(bin: string, pkg: string, allowInstall: boolean, extraPaths: readonly string[] = []): boolean {
  const present = () => has(bin) || extraPaths.some((p) => spawnSync('test', ['-x', p]).status === 0);
  if (present()) return true;
  if (!allowInstall) {
    process.stderr.write(`bench: ${bin} is not installed (--no-install given)\n`);
    return false;
  }
  if (process.getuid?.() !== 0 || !has('apt-get')) {
    process.stderr.write(`bench: ${bin} is not installed and apt-get cannot be used here (not root or not Debian)\n`);
    return false;
  }
  process.stderr.write(`bench: ${bin} is missing: installing the Debian package "${pkg}" with apt-get\n`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', pkg], { stdio: ['ignore', 'ignore', 'inherit'], env }).status === 0;
  if (!install()) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: ['ignore', 'ignore', 'inherit'], env });
    install();
  }
  const ok = present();
  process.stderr.write(ok ? `bench: installed ${pkg}\n` : `bench: could not install ${pkg}\n`);
  return ok;
}

// ---- wrk ----

/** wrk's done() hook: prints exact counts and percentiles (µs) as one JSON line. */
const WRK_SCRIPT = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50":%.1f,"p99":%.1f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50.0), latency:percentile(99.0)))
end
`;

function wrkVersion(): string {
  const out = spawnSync('wrk', ['--version'], { encoding: 'utf8' });
  const m = /wrk\s+(\S+)/.exec(`${out.stdout}${out.stderr}`);
  return m?.[1] ?? 'unknown';
}

export function wrkTool(): LoadTool {
  return {
    name: 'wrk',
    version: wrkVersion(),
    async run(o, onStart) {
      const script = join(o.workDir, 'wrk-done.lua');
      writeFileSync(script, WRK_SCRIPT);
      const outFile = join(o.workDir, 'wrk.out');
      writeFileSync(outFile, '');
      const child = spawnChild('wrk', 'wrk', ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.durationSeconds}s`, '--timeout', '10s', '-s', script, o.url], {
        logFile: outFile,
        pipeStdout: true,
      });
      onStart(child);
      let stdout = '';
      child.proc.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      const how = await child.exited;
      const line = stdout.split('\n').find((l) => l.startsWith('WRKJSON '));
      if (!line) throw new Error(`wrk failed (${how}) against ${o.url}:\n${stdout}`);
      const r = JSON.parse(line.slice(8)) as Record<string, number>;
      const n = (k: string) => r[k] ?? 0;
      const seconds = n('duration_us') / 1e6;
      return {
        requests: n('requests'),
        seconds,
        rps: n('requests') / seconds,
        p50Ms: n('p50') / 1000,
        p99Ms: n('p99') / 1000,
        non2xx: n('status'),
        errors: n('connect') + n('read') + n('write') + n('timeout'),
      };
    },
  };
}

// ---- autocannon (fallback) ----

export function autocannonTool(): LoadTool | undefined {
  const probe = spawnSync('npx', ['--yes', AUTOCANNON, '--version'], { encoding: 'utf8', timeout: 120_000 });
  if (probe.status !== 0) return undefined;
  return {
    name: 'autocannon',
    version: (probe.stdout.trim().split('\n').pop() ?? AUTOCANNON).replace(/^autocannon\s*v?/, ''),
    async run(o, onStart) {
      const outFile = join(o.workDir, 'autocannon.err');
      const child = spawnChild('autocannon', 'npx', ['--yes', AUTOCANNON, '-c', String(o.connections), '-d', String(o.durationSeconds), '-j', o.url], {
        logFile: outFile,
        pipeStdout: true,
      });
      onStart(child);
      let stdout = '';
      child.proc.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
      const how = await child.exited;
      let r: { requests: { total: number }; latency: { p50: number; p99: number }; duration: number; non2xx: number; errors: number; timeouts: number };
      try {
        r = JSON.parse(stdout.slice(stdout.indexOf('{')));
      } catch {
        throw new Error(`autocannon failed (${how}) against ${o.url}`);
      }
      return {
        requests: r.requests.total,
        seconds: r.duration,
        rps: r.requests.total / r.duration,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
      };
    },
  };
}

/** wrk if it is there or can be installed, else autocannon; undefined when neither runs. */
export function pickLoadTool(prefer: 'wrk' | 'autocannon' | undefined, allowInstall: boolean): LoadTool | undefined {
  if (prefer !== 'autocannon' && ensureDebian('wrk', 'wrk', allowInstall)) return wrkTool();
  if (prefer === 'wrk') return undefined;
  process.stderr.write(`bench: falling back to ${AUTOCANNON} through npx (it runs on Node and competes with the servers for CPU)\n`);
  return autocannonTool();
}

export function commandVersion(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}
