/**
 * Counter keys. A key never contains raw request text: values outside a safe charset or longer
 * than 96 characters are replaced by their SHA-256, so a header value or an odd subject cannot
 * smuggle a separator or blow up the store.
 *
 * - IP: the client IP as the core resolved it (S5: the rightmost untrusted hop — a forged
 *   X-Forwarded-For from an untrusted peer never reaches it). IPv6 is grouped by prefix (/64 by
 *   default: one subscriber usually holds a whole /64, and would otherwise hold 2^64 keys).
 * - Principal: issuer + kind + subject (+ tenant) — DESIGN.md S3, never the subject alone.
 * - Header: always combined with the IP or the principal (S5).
 */
import { createHash } from 'node:crypto';
import net from 'node:net';
import type { RequestContext } from '../core/context.ts';
import type { Principal } from '../core/principal.ts';
import type { CompiledLimit } from './policy.ts';

const SAFE = /^[A-Za-z0-9._:@/+=-]{1,96}$/;

export function safePart(value: string): string {
  return SAFE.test(value) && !value.startsWith('#') ? value : `#${createHash('sha256').update(value).digest('base64url').slice(0, 32)}`;
}

/** The IPv6 network of `ip` with `prefix` bits, as "2001:db8:1:2::/64"; IPv4 unchanged. */
export function ipKey(ip: string, prefix = 64): string {
  // The core hands over a normalised address or 'unknown' (client-ip.ts): no colon, IPv4.
  if (!ip.includes(':')) return ip;
  if (prefix >= 128) return net.isIPv6(ip) ? ip : 'unknown';
  if ((prefix & 15) === 0 && net.isIPv6(ip)) {
    const written = leadingGroups(ip, prefix >> 4);
    if (written !== undefined) return `${written}::/${prefix}`;
  }
  const words = ipv6Words(ip);
  if (!words) return 'unknown';
  const full = prefix >> 4;
  const rest = prefix & 15;
  const out: string[] = [];
  for (let i = 0; i < full; i++) out.push((words[i] as number).toString(16));
  if (rest) out.push(((words[full] as number) & ((0xffff << (16 - rest)) & 0xffff)).toString(16));
  return `${out.join(':')}::/${prefix}`;
}

/**
 * The first `groups` groups of an address as written, when they are written out (no `::` among
 * them) in canonical form (lower-case hex, no leading zero): then they are the network already,
 * without parsing the rest. Undefined otherwise (the words are parsed).
 */
function leadingGroups(ip: string, groups: number): string | undefined {
  let i = 0;
  for (let g = 0; g < groups; g++) {
    if (g > 0) {
      if (ip.charCodeAt(i) !== 0x3a || ip.charCodeAt(i + 1) === 0x3a) return undefined;
      i++;
    }
    const start = i;
    for (let c = ip.charCodeAt(i); (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66); c = ip.charCodeAt(++i));
    const len = i - start;
    if (len === 0 || len > 4 || (len > 1 && ip.charCodeAt(start) === 0x30)) return undefined;
  }
  // A group must end here: at a ':' (or at the end of an address of exactly `groups` groups).
  if (i < ip.length && ip.charCodeAt(i) !== 0x3a) return undefined;
  return ip.slice(0, i);
}

/**
 * The eight 16-bit words of an IPv6 address (RFC 4291 §2.2: `::` and an IPv4 tail expanded).
 * One pass over the characters once node:net has said the text is an IPv6 address: the split,
 * spread and map version cost ~2 µs a key, most of an IPv6 throttle check (docs/ratelimit.md).
 */
function ipv6Words(ip: string): number[] | undefined {
  if (!net.isIPv6(ip)) return undefined;
  const words: number[] = [];
  let gap = -1;
  let i = 0;
  const n = ip.length;
  if (ip.charCodeAt(0) === 0x3a && ip.charCodeAt(1) === 0x3a) {
    gap = 0;
    i = 2;
  }
  while (i < n) {
    let j = i;
    let dotted = false;
    while (j < n && ip.charCodeAt(j) !== 0x3a) {
      if (ip.charCodeAt(j) === 0x2e) dotted = true;
      j++;
    }
    if (dotted) {
      const b = ip.slice(i, j).split('.');
      words.push((Number(b[0]) << 8) | Number(b[1]), (Number(b[2]) << 8) | Number(b[3]));
    } else words.push(parseInt(ip.slice(i, j), 16));
    i = j + 1;
    if (j + 1 < n && ip.charCodeAt(j + 1) === 0x3a) {
      gap = words.length;
      i = j + 2;
    }
  }
  if (gap >= 0) words.splice(gap, 0, ...new Array<number>(8 - words.length).fill(0));
  return words;
}

/** S3: a principal is issuer + kind + subject (+ tenant), never a bare subject. */
export function principalPart(p: Principal): string {
  return `${p.kind}=${safePart(`${p.issuer} ${p.subject} ${p.tenant ?? ''}`)}`;
}

/**
 * The key of `limit` for this request (without the store prefix), or undefined when the limit
 * does not apply (by: user with `fallback: skip` and no user).
 */
export function limitKey(limit: CompiledLimit, ctx: Pick<RequestContext, 'clientIp' | 'principal' | 'headers'>): string | undefined {
  const ip = () => `ip=${ipKey(ctx.clientIp, limit.ipv6Prefix)}`;
  const p = ctx.principal;
  const fallback = () => (limit.fallback === 'ip' ? ip() : undefined);
  switch (limit.by) {
    case 'ip':
      return ip();
    case 'principal':
      return p.kind === 'anonymous' ? fallback() : principalPart(p);
    case 'user':
      return p.kind === 'user' ? principalPart(p) : fallback();
    case 'client':
      if (p.kind === 'client') return principalPart(p);
      // A user's token issued to an OAuth client counts against that client.
      return p.clientId !== undefined && p.kind !== 'anonymous' ? `client=${safePart(`${p.issuer} ${p.clientId} ${p.tenant ?? ''}`)}` : fallback();
    case 'key':
      if (p.kind === 'key') return principalPart(p);
      return p.keyId !== undefined && p.kind !== 'anonymous' ? `key=${safePart(`${p.issuer} ${p.keyId}`)}` : fallback();
    case 'header': {
      const raw = ctx.headers[limit.header ?? ''];
      const value = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
      // S5: combined with the IP or the principal, so a forged value only splits the caller's own budget.
      const who = limit.combineWith === 'principal' && p.kind !== 'anonymous' ? principalPart(p) : ip();
      return `${who}|h=${safePart(value.slice(0, 1024))}`;
    }
  }
}
