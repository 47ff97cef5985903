/**
 * IP addresses and CIDR ranges, compiled once into node:net BlockLists (hono's ip-restriction
 * compiles its rules the same way). An address that cannot be parsed matches nothing, and callers
 * deny what they cannot identify.
 */
import net from 'node:net';

export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/** Normalises IPv4-mapped IPv6 (::ffff:10.0.0.1 → 10.0.0.1) and strips a zone id (S5). */
export function normaliseIp(ip: string): string {
  let s = ip.trim();
  const zone = s.indexOf('%');
  if (zone !== -1) s = s.slice(0, zone);
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(s);
  if (mapped && mapped[1]) return mapped[1];
  return s.toLowerCase();
}

export function parseCidr(text: string): Cidr | undefined {
  const [addrRaw, prefixRaw, extra] = text.trim().split('/');
  if (addrRaw === undefined || extra !== undefined) return undefined;
  const address = normaliseIp(addrRaw);
  const kind = net.isIP(address);
  if (kind === 0) return undefined;
  const max = kind === 4 ? 32 : 128;
  let prefix = max;
  if (prefixRaw !== undefined) {
    if (!/^\d{1,3}$/.test(prefixRaw)) return undefined;
    prefix = Number(prefixRaw);
    if (prefix > max) return undefined;
  }
  return { address, prefix, family: kind === 4 ? 'ipv4' : 'ipv6' };
}

/** A compiled set of ranges. */
export class IpSet {
  readonly size: number;
  readonly #list = new net.BlockList();

  constructor(cidrs: readonly string[]) {
    let n = 0;
    for (const text of cidrs) {
      const c = parseCidr(text);
      if (!c) throw new Error(`"${text}" is not an IP address or CIDR range`);
      this.#list.addSubnet(c.address, c.prefix, c.family);
      n++;
    }
    this.size = n;
  }

  has(ip: string): boolean {
    if (this.size === 0) return false;
    const a = normaliseIp(ip);
    const kind = net.isIP(a);
    if (kind === 0) return false;
    return this.#list.check(a, kind === 4 ? 'ipv4' : 'ipv6');
  }
}
