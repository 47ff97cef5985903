// TLS from the gateway to an upstream: always verified (DESIGN practice 1), optionally with a
// client certificate (mTLS, the way S2 recommends upstreams accept only the gateway).
import { isIP } from 'node:net';
import { loadCaBundle, loadCertificatePair } from './pem-files.ts';

export interface UpstreamTlsConfig {
  /** PEM bundle of CAs that sign the upstream's certificate; default: Node's public roots. */
  caFile?: string;
  /** Client certificate and key for mTLS; both or neither. */
  certFile?: string;
  keyFile?: string;
  /** Name to send in SNI and to check in the upstream's certificate (when targets are IPs). */
  serverName?: string;
}

/** Options for undici's `connect` (and tls.connect). Never `rejectUnauthorized: false`. */
export interface UpstreamConnectOptions {
  readonly rejectUnauthorized: true;
  readonly minVersion: 'TLSv1.2';
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly servername?: string;
}

/** Reads and checks the files now; a problem throws an Error naming the file. */
export function upstreamConnectOptions(config: UpstreamTlsConfig): UpstreamConnectOptions {
  if ((config.certFile === undefined) !== (config.keyFile === undefined)) {
    throw new Error('upstream TLS: certFile and keyFile go together (a client certificate needs its key)');
  }
  if (config.serverName !== undefined && (config.serverName === '' || isIP(config.serverName) !== 0)) {
    // RFC 6066 §3: "Literal IPv4 and IPv6 addresses are not permitted in HostName."
    throw new Error(`upstream TLS: serverName "${config.serverName}" must be a host name, not an address`);
  }
  const pair = config.certFile !== undefined && config.keyFile !== undefined
    ? loadCertificatePair(config.certFile, config.keyFile)
    : undefined;
  return Object.freeze({
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ...(config.caFile === undefined ? {} : { ca: loadCaBundle(config.caFile) }),
    ...(pair === undefined ? {} : { cert: pair.certPem, key: pair.keyPem }),
    ...(config.serverName === undefined ? {} : { servername: config.serverName }),
  } as const);
}
