/**
 * SSRF-shaped URLs in `format: uri` fields: schemes that reach other protocols (file, gopher,
 * dict, ftp, ldap…), and http(s) URLs whose host is loopback, private (RFC 1918, RFC 4193),
 * link-local (RFC 3927, RFC 4291 — the cloud metadata service at 169.254.169.254 lives there),
 * shared address space, unspecified or multicast, or a metadata/internal name. The WHATWG URL
 * parser normalises the disguises (2130706433, 0x7f.1, 0177.0.0.1, [::ffff:127.0.0.1]). A public
 * name that resolves to a private address is not caught here: the service must not follow it.
 */
import { IpSet, normaliseIp } from '../../../core/net/cidr.ts';
import net from 'node:net';

const BLOCKED_SCHEMES = new Set(['file:', 'gopher:', 'dict:', 'ftp:', 'ftps:', 'sftp:', 'tftp:', 'ldap:', 'ldaps:', 'jar:', 'netdoc:', 'php:', 'phar:', 'expect:', 'smb:', 'telnet:', 'ssh:', 'redis:', 'memcached:', 'mysql:', 'postgres:', 'postgresql:', 'mongodb:']);
const NETWORK_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:']);
const INTERNAL = new IpSet([
  '0.0.0.0/8', '10.0.0.0/8', '100.64.0.0/10', '127.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.0.0.0/24',
  '192.168.0.0/16', '198.18.0.0/15', '224.0.0.0/4', '240.0.0.0/4',
  '::/128', '::1/128', 'fc00::/7', 'fe80::/10', 'ff00::/8', '64:ff9b::/96',
]);
const INTERNAL_NAMES = /^(?:localhost|metadata|metadata\.google\.internal|instance-data|instance-data\.ec2\.internal)$|\.(?:localhost|internal|local|localdomain|home\.arpa)$/;

/** An http(s) URL whose host is a plain DNS name with an alphabetic top-level label and no userinfo: no IP literal can hide in it. */
const PLAIN_PUBLIC = /^https?:\/\/[a-z0-9-]{1,63}(?:\.[a-z0-9-]{1,63}){0,10}\.[a-z]{2,63}(?::\d{1,5})?(?:[/?#]|$)/i;

export function looksLikeSsrf(value: string): boolean {
  if (PLAIN_PUBLIC.test(value)) {
    const host = value.slice(value.indexOf('//') + 2).split(/[/?#:]/, 1)[0]?.toLowerCase() ?? '';
    return INTERNAL_NAMES.test(host);
  }
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    return false;
  }
  if (BLOCKED_SCHEMES.has(url.protocol)) return true;
  if (!NETWORK_SCHEMES.has(url.protocol)) return false;
  // Parser differentials: several `@` or a backslash before the host read differently elsewhere.
  const authority = value.trim().slice(url.protocol.length).split(/[/?#]/, 3).join('/');
  if ((url.username || url.password) && (/@.*@/.test(authority) || authority.includes('\\'))) return true;
  let host = url.hostname.toLowerCase();
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  if (host.endsWith('.')) host = host.slice(0, -1);
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (mapped) {
    const hi = parseInt(mapped[1] as string, 16);
    const lo = parseInt(mapped[2] as string, 16);
    host = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  if (net.isIP(host) !== 0) return INTERNAL.has(normaliseIp(host));
  return INTERNAL_NAMES.test(host);
}
