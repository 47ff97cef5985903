/**
 * The client IP (DESIGN.md S5): the rightmost `Forwarded` / `X-Forwarded-For` hop that is not a
 * configured trusted proxy — and only when the socket peer itself is a trusted proxy. Anything a
 * client wrote to the left of the first untrusted hop is ignored.
 */
import net from 'node:net';
import { normaliseIp, type IpSet } from './cidr.ts';

/** RFC 7239 §4: for= values, possibly quoted, bracketed IPv6 with optional port. */
function forwardedFor(header: string): string[] {
  const hops: string[] = [];
  for (const element of header.split(',')) {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      if (pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      let v = pair.slice(eq + 1).trim();
      if (v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
      if (v.startsWith('[')) v = v.slice(1, v.indexOf(']') === -1 ? undefined : v.indexOf(']'));
      else if (/^\d{1,3}(\.\d{1,3}){3}:\d+$/.test(v)) v = v.slice(0, v.lastIndexOf(':'));
      hops.push(v);
    }
  }
  return hops;
}

function xForwardedFor(header: string): string[] {
  return header.split(',').map((s) => s.trim()).filter(Boolean);
}

export function resolveClientIp(
  peerIp: string,
  headers: { forwarded?: string | undefined; xForwardedFor?: string | undefined },
  trusted: IpSet,
): string {
  const peer = normaliseIp(peerIp);
  if (!trusted.has(peer)) return peer;
  // Prefer the standard header when present (RFC 7239); X-Forwarded-For otherwise.
  const hops = headers.forwarded ? forwardedFor(headers.forwarded) : headers.xForwardedFor ? xForwardedFor(headers.xForwardedFor) : [];
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normaliseIp(hops[i] ?? '');
    if (net.isIP(hop) === 0) return 'unknown'; // an unidentifiable hop: callers deny what they cannot identify
    if (!trusted.has(hop)) return hop;
  }
  // Every hop is a trusted proxy: the leftmost is the best we know.
  const first = hops[0] ? normaliseIp(hops[0]) : peer;
  return net.isIP(first) ? first : peer;
}
