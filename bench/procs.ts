/**
 * Child processes of the benchmark: spawned on loopback, each tracked so that every one of them is
 * stopped at the end, on error and on Ctrl-C; and their CPU time, read from /proc.
 */
import { spawn, execFileSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import { existsSync, openSync, readFileSync, readdirSync, closeSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export interface Child {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<string>;
  /** Where its stderr goes (and stdout, unless that is read by the caller). */
  readonly logFile: string;
}

const children = new Set<Child>();

export interface SpawnOptions {
  readonly logFile: string;
  /** Read stdout in the parent (for a ready line) instead of sending it to the log file. */
  readonly pipeStdout?: boolean;
  /** Send stdout to /dev/null (a gateway's access log under load would fill the disk). */
  readonly discardStdout?: boolean;
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

export function spawnChild(name: string, command: string, args: readonly string[], options: SpawnOptions): Child {
  const log = openSync(options.logFile, 'a');
  const stdio: StdioOptions = ['ignore', options.pipeStdout ? 'pipe' : options.discardStdout ? 'ignore' : log, log];
  const proc = spawn(command, args, { stdio, env: options.env ?? process.env, cwd: options.cwd ?? process.cwd() });
  closeSync(log);
  if (proc.pid === undefined) throw new Error(`cannot start ${name} (${command})`);
  const exited = new Promise<string>((resolve) => {
    proc.once('exit', (code, signal) => resolve(signal ?? String(code)));
    proc.once('error', (err) => resolve(`error: ${err.message}`));
  });
  const child: Child = { name, proc, pid: proc.pid, exited, logFile: options.logFile };
  children.add(child);
  void exited.then(() => children.delete(child));
  return child;
}

export const isRunning = (child: Child): boolean => children.has(child);

/** The last lines of a child's log, without stack frames: for error messages. */
export function logTail(child: Child, lines = 12): string {
  try {
    const text = readFileSync(child.logFile, 'utf8').split('\n').filter((l) => !/^\s+at /.test(l));
    return text.slice(-lines).join('\n');
  } catch {
    return '';
  }
}

/** Resolves with the first stdout line that parses as JSON with `ready: true`. */
export function readyLine<T>(child: Child, timeoutMs = 30_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const out = child.proc.stdout;
    if (!out) return reject(new Error(`${child.name}: stdout is not piped`));
    let buf = '';
    const timer = setTimeout(() => reject(new Error(`${child.name} did not become ready within ${timeoutMs} ms (see ${child.logFile})`)), timeoutMs);
    out.setEncoding('utf8');
    out.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) !== -1) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        try {
          const parsed = JSON.parse(line) as { ready?: unknown };
          if (parsed.ready === true) {
            clearTimeout(timer);
            resolve(parsed as T);
          }
        } catch {
          /* not the ready line */
        }
      }
    });
    void child.exited.then((how) => {
      clearTimeout(timer);
      reject(new Error(`${child.name} exited (${how}) before it was ready (see ${child.logFile})`));
    });
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopChild(child: Child, graceMs = 5_000): Promise<void> {
  if (!children.has(child)) return;
  child.proc.kill('SIGTERM');
  const gone = await Promise.race([child.exited.then(() => true), delay(graceMs, false)]);
  if (!gone) {
    child.proc.kill('SIGKILL');
    await child.exited;
  }
}

/** Stops every child still running, the last started first. */
export async function stopAll(graceMs = 5_000): Promise<void> {
  for (const child of [...children].reverse()) await stopChild(child, graceMs);
}

/** Last resort on process exit: synchronous SIGKILL to whatever is left. */
export function killAllNow(): void {
  for (const child of children) child.proc.kill('SIGKILL');
}

/** A free TCP port on 127.0.0.1 (closed again at once; the children bind it a moment later). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen({ port: 0, host: '127.0.0.1' }, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Retries `probe` until it resolves, or throws its last error after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => Promise<T>, timeoutMs = 30_000, alive?: Child): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    if (alive && !children.has(alive)) throw new Error(`${alive.name} exited before ${what} (see ${alive.logFile})`);
    try {
      return await probe();
    } catch (err) {
      last = err;
      await delay(200);
    }
  }
  throw new Error(`${what}: not ready after ${timeoutMs} ms: ${last instanceof Error ? last.message : String(last)}`);
}

// ---- CPU time from /proc ----

let clkTck: number | undefined;

/** Clock ticks per second of /proc/<pid>/stat (getconf CLK_TCK; 100 on Linux in practice). */
export function clockTicks(): number {
  if (clkTck === undefined) {
    try {
      clkTck = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clkTck = 100;
    }
  }
  return clkTck;
}

export const procAvailable = (): boolean => existsSync('/proc/self/stat');

interface StatFields {
  ppid: number;
  ticks: number;
}

/** utime + stime (fields 14 and 15 of proc(5) stat) and the parent pid; the name may hold spaces. */
function readStat(pid: number): StatFields | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field N is rest[N - 3].
  return { ppid: Number(rest[1]), ticks: Number(rest[11]) + Number(rest[12]) };
}

/** The pids of `pid` and all its descendants (nginx: master and workers). */
export function processTree(pid: number): number[] {
  const byParent = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const st = readStat(Number(entry));
    if (!st) continue;
    const list = byParent.get(st.ppid) ?? [];
    list.push(Number(entry));
    byParent.set(st.ppid, list);
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const p = queue.shift() as number;
    out.push(p);
    queue.push(...(byParent.get(p) ?? []));
  }
  return out;
}

/**
 * CPU time in microseconds used so far by the given processes (user + system, all threads).
 * Resolution is one clock tick (10 ms at CLK_TCK 100): negligible over a round of seconds.
 */
export function cpuMicros(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) ticks += readStat(pid)?.ticks ?? 0;
  return (ticks * 1e6) / clockTicks();
}

/** Busy CPU time of the whole machine so far (all CPUs, every process), µs: /proc/stat "cpu". */
export function machineBusyMicros(): number {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already inside user)
    const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
    return (busy * 1e6) / clockTicks();
  } catch {
    return 0;
  }
}
