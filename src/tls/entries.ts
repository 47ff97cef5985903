/**
 * A listener's `tls` config as CertificateStore entries: paths resolved from the config file's
 * directory; each certificate's own `clientAuth`, else the listener's. Used by the listener and by
 * `rampart check`.
 */
import path from 'node:path';
import type { ListenerTlsConfig } from '../config/types.ts';
import type { CertificateEntry } from './store.ts';

export function certificateEntries(tls: ListenerTlsConfig, baseDir: string): CertificateEntry[] {
  return (tls.certificates ?? []).map((c) => {
    const auth = c.clientAuth ?? tls.clientAuth;
    return {
      certFile: path.resolve(baseDir, c.cert),
      keyFile: path.resolve(baseDir, c.key),
      ...(c.serverNames ? { serverNames: [...c.serverNames] } : {}),
      ...(auth ? { clientAuth: { caFile: path.resolve(baseDir, auth.ca), required: auth.required } } : {}),
    };
  });
}

/** The listener asks for client certificates on some name. */
export function hasClientAuth(tls: ListenerTlsConfig | undefined): boolean {
  return tls?.clientAuth !== undefined || (tls?.certificates ?? []).some((c) => c.clientAuth !== undefined);
}
