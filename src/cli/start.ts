/**
 * `rampart start`: runs the gateway until SIGTERM/SIGINT (graceful shutdown) and reloads on SIGHUP.
 */
import { setFlagsFromString } from 'node:v8';
import { ConfigError, formatProblem } from '../config/load.ts';
import { Gateway } from '../core/gateway.ts';

/**
 * V8 tuning for a process that serves the gateway (the CLI's `start` and the demo; never a library
 * caller's process). Allocation-site pretenuring moves objects of an allocation site straight into
 * the old generation once most of them survived a scavenge. In a process with Rampart's heap it
 * picks per-request sites (headers, streams, the undici request); the dead old objects then keep
 * every young object they point to alive through the next scavenge, which promotes whole requests:
 * measured ~9 KB promoted per proxied GET and 15-19 µs of scavenging per request, against ~2-3 KB
 * and 3-7 µs without it (docs/performance.md). A plain node:http + undici proxy shows the same
 * once ~10 MB of long-lived objects are loaded beside it. Set before the config is compiled.
 */
export function tuneRuntimeForServing(): void {
  setFlagsFromString('--no-allocation-site-pretenuring');
}

export async function startGateway(configFile: string): Promise<Gateway | undefined> {
  tuneRuntimeForServing();
  try {
    return await Gateway.start({ configFile });
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) process.stderr.write(formatProblem(p) + '\n');
    } else {
      process.stderr.write(`rampart: cannot start: ${err instanceof Error ? err.message : String(err)}\n`);
    }
    return undefined;
  }
}

/** Wires the process signals to a running gateway; resolves with the exit code once it stopped. */
export function runUntilSignalled(gw: Gateway, beforeExit?: () => Promise<void>): Promise<number> {
  // Last resort: a rejection nobody handled is a bug to log, not a reason to drop every request in flight.
  process.on('unhandledRejection', (err) => gw.logger.error({ err }, 'unhandled rejection (a bug): logged, serving on'));
  return new Promise((resolve) => {
    const stop = (signal: string) => {
      gw.logger.info({ signal }, 'shutting down: no new connections, finishing requests in flight');
      process.off('SIGTERM', onTerm);
      process.off('SIGINT', onInt);
      process.off('SIGHUP', onHup);
      gw.close()
        .then(() => beforeExit?.())
        .then(
          () => resolve(0),
          () => resolve(1),
        );
    };
    const onTerm = () => stop('SIGTERM');
    const onInt = () => stop('SIGINT');
    const onHup = () => void gw.reload();
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', onInt);
    process.on('SIGHUP', onHup);
  });
}

export async function runStart(configFile: string): Promise<number> {
  const gw = await startGateway(configFile);
  if (!gw) return 1;
  for (const l of gw.listeners()) {
    const a = l.address();
    gw.logger.info({ listener: l.config.name, address: `${a.address}:${a.port}`, origin: l.info.publicOrigin }, 'listening');
  }
  return runUntilSignalled(gw);
}

export { formatProblem };
