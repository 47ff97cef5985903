/**
 * One upstream target: its undici connection pool and its passive health. Kept across hot reloads
 * (keyed by upstream id and URL) while the settings the pool depends on are unchanged.
 */
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { Pool } from 'undici';
import type { UpstreamConfig } from '../../config/types.ts';
import { upstreamConnectOptions, type UpstreamConnectOptions } from '../../tls/upstream.ts';
import { PassiveHealth } from './health-state.ts';

export interface Target {
  /** The configured URL, e.g. https://orders.internal:8443 (for logs). */
  readonly url: string;
  /** host[:port] of the target: the Host sent upstream unless the route preserves the client's. */
  readonly authority: string;
  readonly pool: Pool;
  readonly passive: PassiveHealth;
  /** A separate one-connection pool for active health checks, so that a saturated pool cannot fail them. */
  probePool(): Pool;
}

/** Upstream TLS connect options (src/tls/upstream.ts: always verified), with a digest for fingerprints. */
export interface TlsMaterial {
  readonly options: UpstreamConnectOptions;
  readonly digest: string;
}

export function loadTlsMaterial(upstream: UpstreamConfig): TlsMaterial | undefined {
  const tls = upstream.tls;
  if (tls === undefined) return undefined;
  const options = upstreamConnectOptions({
    ...(tls.ca !== undefined && { caFile: tls.ca }),
    ...(tls.cert !== undefined && { certFile: tls.cert }),
    ...(tls.key !== undefined && { keyFile: tls.key }),
    ...(tls.serverName !== undefined && { serverName: tls.serverName }),
  });
  const digest = createHash('sha256').update(JSON.stringify(options)).digest('hex');
  return { options, digest };
}

/** What the pool depends on: a change makes a new pool on reload, anything else keeps it. */
export function targetFingerprint(upstream: UpstreamConfig, url: string, tls: TlsMaterial | undefined): string {
  return JSON.stringify({ url, tls: tls?.digest ?? null, connectMs: upstream.timeouts.connectMs, pool: upstream.pool });
}

export function createTarget(upstream: UpstreamConfig, url: string, tls: TlsMaterial | undefined): Target {
  const parsed = new URL(url);
  const hostname = parsed.hostname.startsWith('[') ? parsed.hostname.slice(1, -1) : parsed.hostname;
  // RFC 6066 §3: an IP address is never sent as SNI.
  const servername = tls?.options.servername ?? (isIP(hostname) === 0 ? hostname : undefined);
  const options: Pool.Options = {
    keepAliveTimeout: upstream.pool.keepAliveTimeoutMs,
    headersTimeout: upstream.timeouts.headersMs,
    bodyTimeout: upstream.timeouts.bodyMs,
    // HTTP/1.1 to upstreams: predictable framing, trailers and upgrades on every target.
    allowH2: false,
    strictContentLength: true,
    connect: {
      timeout: upstream.timeouts.connectMs,
      // Verified TLS, always (DESIGN practice 1): the configured CA, else Node's public roots.
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      ...tls?.options,
      ...(servername !== undefined && { servername }),
    },
  };
  const make = (connections: number): Pool => {
    const pool = new Pool(parsed.origin, { ...options, connections });
    // Errors of idle connections surface on requests; a pool must never crash the process.
    pool.on('connectionError', () => {});
    return pool;
  };
  return { url, authority: parsed.host, pool: make(upstream.pool.connections), passive: new PassiveHealth(), probePool: () => make(1) };
}

/** Called by the keeper once no live generation uses the target: drain, then force. */
export async function disposeTarget(target: Target, graceMs = 5_000): Promise<void> {
  const closed = target.pool.close().then(() => true, () => true);
  const done = await Promise.race([closed, delay(graceMs, false, { ref: false })]);
  if (!done) await target.pool.destroy().catch(() => {});
}
