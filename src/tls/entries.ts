/**
 * A listener's `tls` config as CertificateStore entries: paths resolved from the config file's
 * directory, the listener's client CA on every entry. Used by the listener and by `rampart check`.
 */
import path from 'node:path';
import type { ListenerTlsConfig } from '../config/types.ts';
import type { CertificateEntry } from './store.ts';

export function certificateEntries(tls: ListenerTlsConfig, baseDir: string): CertificateEntry[] {
  const clientAuth = tls.clientAuth ? { caFile: path.resolve(baseDir, tls.clientAuth.ca), required: tls.clientAuth.required } : undefined;
  return (tls.certificates ?? []).map((c) => ({
    certFile: path.resolve(baseDir, c.cert),
    keyFile: path.resolve(baseDir, c.key),
    ...(c.serverNames ? { serverNames: [...c.serverNames] } : {}),
    ...(clientAuth ? { clientAuth } : {}),
  }));
}
