// Loopback names and addresses: the only ones the development CA may serve (DESIGN S4).
import { isIPv4, isIPv6 } from 'node:net';

/**
 * True for `localhost`, `*.localhost` (RFC 6761 §6.3), 127.0.0.0/8, ::1 and their
 * IPv4-mapped form; `[::1]` brackets are accepted. Wildcard binds (0.0.0.0, ::) are not loopback.
 */
export function isLoopbackHost(host: string): boolean {
  let h = host.trim().toLowerCase();
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  if (h.endsWith('.') && !isIPv4(h.slice(0, -1))) h = h.slice(0, -1);
  if (h === 'localhost' || h.endsWith('.localhost')) return /^[a-z0-9.-]+$/.test(h) && !h.includes('..');
  if (isIPv4(h)) return h.startsWith('127.');
  if (isIPv6(h)) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
    if (mapped?.[1] !== undefined) return mapped[1].startsWith('127.');
    return expandIPv6(h) === '0000:0000:0000:0000:0000:0000:0000:0001';
  }
  return false;
}

/**
 * Refuses the development CA on a listener that binds a non-loopback address: its certificates
 * are trusted by whoever imported ca.crt and must never face a network (DESIGN S4).
 */
export function assertDevCertificatesAllowed(listenerName: string, bindHost: string): void {
  if (isLoopbackHost(bindHost)) return;
  throw new Error(
    `listener "${listenerName}": the development CA (tls.dev: true) only serves loopback addresses, ` +
      `but the listener binds "${bindHost}"; bind it to 127.0.0.1, ::1 or localhost, ` +
      'or configure a certificate and key for it',
  );
}

function expandIPv6(ip: string): string {
  const [head = '', tail] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((g) => g.padStart(4, '0')).join(':');
}
