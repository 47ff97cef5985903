// What the core needs to open a TLS listener: options for http2.createSecureServer, and the
// hooks that keep a running server in step with its CertificateStore.
import type { Http2SecureServer, SecureServerOptions } from 'node:http2';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import { hardenTlsSocket } from './policy.ts';
import type { TlsPolicy } from './policy.ts';
import type { CertificateStore } from './store.ts';

export interface ListenerProtocols {
  /** false: offer only http/1.1 by ALPN (a client that offers only h2 is refused, RFC 7301 §3.2). */
  http2?: boolean;
}

/**
 * Options for `http2.createSecureServer(options, handler)`: ALPN h2 then http/1.1 (RFC 7301),
 * the store's policy, its default certificate, SNI lookup, and client certificates when any name
 * asks. Node decides requestCert per server, so a listener with one mTLS name asks every client
 * for a certificate; each name verifies it against its own client CA (see clientCertificateStatus).
 *
 * `policy` must be the store's (the default): the contexts chosen by SNI are built with it.
 * http2.createSecureServer overwrites `ALPNProtocols`, so `http2: false` is done with an
 * ALPNCallback; do not add ALPNProtocols to these options.
 */
export function tlsServerOptions(
  store: CertificateStore,
  policy: TlsPolicy = store.policy,
  protocols: ListenerProtocols = {},
): SecureServerOptions {
  if (policy !== store.policy && JSON.stringify(policy) !== JSON.stringify(store.policy)) {
    throw new Error('tlsServerOptions: the certificate store was built with another TLS policy; build it with this one');
  }
  const alpn = protocols.http2 === false
    ? { ALPNCallback: ({ protocols: offered }: { protocols: string[] }) => (offered.includes('http/1.1') ? 'http/1.1' : undefined) }
    : { ALPNProtocols: ['h2', 'http/1.1'] };
  return {
    allowHTTP1: true,
    ...alpn,
    ...store.defaultContextOptions(),
    SNICallback: store.SNICallback,
    requestCert: store.requestCert,
    rejectUnauthorized: store.requestCert && store.rejectUnauthorized,
  };
}

/**
 * Call once after creating the server. On every connection: no renegotiation, and a name whose
 * clientAuth is `required` closes a connection without a verified client certificate. On every
 * store reload: the default context (used when the client sends no SNI) is swapped in.
 * Returns a function that removes both hooks.
 */
export function attachCertificateStore(server: Http2SecureServer | TlsServer, store: CertificateStore): () => void {
  const onSecureConnection = (socket: TLSSocket): void => {
    hardenTlsSocket(socket);
    const name = (socket as { servername?: unknown }).servername;
    const clientAuth = store.clientAuthFor(typeof name === 'string' ? name : undefined);
    if (clientAuth?.required === true && !store.clientCertificateStatus(socket).verified) socket.destroy();
  };
  const offReload = store.on('reload', () => server.setSecureContext(store.defaultContextOptions()));
  server.prependListener('secureConnection', onSecureConnection);
  return () => {
    offReload();
    server.off('secureConnection', onSecureConnection);
  };
}
