/**
 * Outbound fetches of discovery documents and JWK sets, bounded as S8 requires: HTTPS only, one
 * deadline for the whole exchange (5 s), a body cap (256 KB), no redirects, and no private,
 * loopback, link-local or otherwise special-purpose address unless the issuer is configured with
 * `allowPrivateNetwork` — checked on the resolved addresses themselves (a custom DNS lookup), so
 * DNS rebinding cannot slip a private address in after the check.
 */
import dns from 'node:dns';
import net from 'node:net';
import type { LookupFunction } from 'node:net';
import { Agent, request } from 'undici';
import { IpSet, normaliseIp } from '../../core/net/cidr.ts';

export interface FetchPolicy {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly allowPrivateNetwork: boolean;
  /** PEM of the CAs trusted for this issuer's TLS (default: Node's public roots). */
  readonly ca?: string;
}

export const S8_POLICY = { timeoutMs: 5000, maxBytes: 256 * 1024 } as const;

/** Special-purpose ranges (RFC 6890 and its IANA registries) never fetched from by default. */
const SPECIAL = new IpSet([
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24',
  '192.0.2.0/24', '192.88.99.0/24', '192.168.0.0/16', '198.18.0.0/15', '198.51.100.0/24', '203.0.113.0/24',
  '224.0.0.0/4', '240.0.0.0/4',
  '::/128', '::1/128', '64:ff9b::/96', '64:ff9b:1::/48', '100::/64', '2001::/32', '2001:db8::/32', '2002::/16',
  'fc00::/7', 'fe80::/10', 'ff00::/8',
]);

export function isSpecialAddress(ip: string): boolean {
  return SPECIAL.has(normaliseIp(ip));
}

export class FetchError extends Error {
  readonly reason: string;
  constructor(reason: string, options?: { cause?: unknown }) {
    super(reason, options);
    this.name = 'FetchError';
    this.reason = reason;
  }
}

/** A DNS lookup that refuses special-purpose addresses (S8). */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dns.lookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, '', 0);
    const list = addresses as dns.LookupAddress[];
    const bad = list.find((a) => isSpecialAddress(a.address));
    if (bad || list.length === 0) {
      const e = Object.assign(new Error(`refusing ${bad?.address ?? 'no address'}: private or special-purpose address (S8)`), { code: 'ERAMPART_PRIVATE_ADDRESS' });
      return callback(e, '', 0);
    }
    if ((options as { all?: boolean }).all) (callback as unknown as (e: null, a: dns.LookupAddress[]) => void)(null, list);
    else callback(null, (list[0] as dns.LookupAddress).address, (list[0] as dns.LookupAddress).family);
  });
};

export class SafeFetcher {
  readonly #policy: FetchPolicy;
  readonly #agent: Agent;

  constructor(policy: FetchPolicy) {
    this.#policy = policy;
    this.#agent = new Agent({
      connect: {
        timeout: policy.timeoutMs,
        rejectUnauthorized: true,
        ...(policy.ca ? { ca: policy.ca } : {}),
        ...(policy.allowPrivateNetwork ? {} : { lookup: guardedLookup }),
      },
      headersTimeout: policy.timeoutMs,
      bodyTimeout: policy.timeoutMs,
      keepAliveTimeout: 10_000,
      connections: 2,
      allowH2: false,
    });
  }

  /** GETs `url` and parses its JSON body; throws FetchError with a log-safe reason. */
  async json(url: string): Promise<unknown> {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new FetchError('not a URL');
    }
    if (u.protocol !== 'https:') throw new FetchError('not https (S8)');
    if (u.username || u.password) throw new FetchError('userinfo in URL');
    const host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    // An address literal skips DNS, so the guard runs here too.
    if (!this.#policy.allowPrivateNetwork && net.isIP(host) !== 0 && isSpecialAddress(host)) throw new FetchError('private or special-purpose address (S8)');
    const signal = AbortSignal.timeout(this.#policy.timeoutMs);
    let res;
    try {
      res = await request(u, { method: 'GET', dispatcher: this.#agent, signal, headers: { accept: 'application/json, application/jwk-set+json' } });
    } catch (err) {
      throw new FetchError(describe(err), { cause: err });
    }
    try {
      if (res.statusCode !== 200) throw new FetchError(`status ${res.statusCode}`);
      const declared = Number(res.headers['content-length'] ?? NaN);
      if (declared > this.#policy.maxBytes) throw new FetchError('body over the size cap');
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > this.#policy.maxBytes) throw new FetchError('body over the size cap');
        chunks.push(chunk as Buffer);
      }
      try {
        return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
      } catch {
        throw new FetchError('body is not JSON');
      }
    } catch (err) {
      res.body.on('error', () => undefined);
      res.body.destroy();
      if (err instanceof FetchError) throw err;
      throw new FetchError(describe(err), { cause: err });
    }
  }

  close(): Promise<void> {
    return this.#agent.close().catch(() => undefined);
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return 'timeout';
  const code = e?.code ?? e?.cause?.code;
  if (code === 'ERAMPART_PRIVATE_ADDRESS' || e?.cause?.code === 'ERAMPART_PRIVATE_ADDRESS') return 'private or special-purpose address (S8)';
  return code ? `network error ${String(code).slice(0, 48)}` : 'network error';
}
