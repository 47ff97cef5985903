/**
 * Active health checks of one target: GET `health.active.path` every `intervalMs` (never two at
 * once), bounded by `timeoutMs`; a status outside `expectStatus` or any error is a failure.
 */
import type { HealthConfig } from '../../config/types.ts';
import { ActiveHealth } from './health-state.ts';
import type { Target } from './target.ts';

export type ActiveSettings = NonNullable<HealthConfig['active']>;

export interface ActiveChecker {
  readonly healthy: boolean;
  stop(): void;
}

export function startActiveChecks(
  target: Target,
  cfg: ActiveSettings,
  onChange: (state: 'up' | 'down', reason: string) => void,
  /** The gateway's own Rampart-Identity (anonymous): services accept only the gateway, probes included. */
  identity?: () => Promise<string>,
): ActiveChecker {
  const health = new ActiveHealth();
  const pool = target.probePool();
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const check = async (): Promise<void> => {
    let ok = false;
    let reason = 'ok';
    try {
      const headers: Record<string, string> = { host: target.authority, 'user-agent': 'rampart-health-check' };
      if (identity) headers['rampart-identity'] = await identity();
      const res = await pool.request({
        method: 'GET',
        path: cfg.path,
        headers,
        headersTimeout: cfg.timeoutMs,
        bodyTimeout: cfg.timeoutMs,
        signal: AbortSignal.timeout(cfg.timeoutMs),
      });
      await res.body.dump({ limit: 64 * 1024 }).catch(() => {});
      ok = cfg.expectStatus.includes(res.statusCode);
      if (!ok) reason = `status ${res.statusCode}`;
    } catch (err) {
      reason = (err as { code?: string }).code ?? (err as Error).name;
    }
    if (stopped) return;
    const change = health.record(ok, cfg);
    if (change) onChange(change, reason);
  };

  const loop = (): void => {
    void check().finally(() => {
      if (!stopped) timer = setTimeout(loop, cfg.intervalMs).unref();
    });
  };
  // First probe after a short random delay (Envoy's initial jitter): the gateway's listeners are
  // open by then, and many targets do not get probed in the same instant.
  timer = setTimeout(loop, 250 + Math.random() * Math.min(cfg.intervalMs, 1000)).unref();

  return {
    get healthy() {
      return health.healthy;
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      void pool.destroy().catch(() => {});
    },
  };
}
