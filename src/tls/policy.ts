// The TLS policy of every Rampart listener (DESIGN practice 1 "HTTPS").
//
// TLS 1.2 minimum, TLS 1.3 preferred (OpenSSL picks the highest version both sides speak);
// TLS 1.2 only with ECDHE key exchange (forward secrecy) and AEAD ciphers (RFC 7525 §4.2,
// RFC 9325 §4.2); no renegotiation (RFC 5746 attacks and client-initiated renegotiation DoS).
import { constants } from 'node:crypto';
import type { SecureContextOptions, TLSSocket } from 'node:tls';

/** The TLS 1.2 suites Rampart accepts: ECDHE + AEAD only, in server preference order. */
export const TLS12_CIPHERS: readonly string[] = Object.freeze([
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
]);

/** The TLS 1.3 suites: OpenSSL's defaults, all AEAD (RFC 8446 §9.1), written out so they cannot drift. */
export const TLS13_CIPHERSUITES: readonly string[] = Object.freeze([
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
]);

/** Key-exchange groups, in preference order. */
export const ECDH_CURVES = 'X25519:P-256:P-384';

/** What every secure context of a listener is built with (server side). */
export interface TlsPolicy {
  readonly minVersion: 'TLSv1.2';
  readonly ciphers: string;
  readonly ecdhCurve: string;
  readonly honorCipherOrder: true;
  readonly secureOptions: number;
}

/**
 * The server defaults. Node puts `TLS_*` names of `ciphers` into the TLS 1.3 list and the
 * others into the TLS 1.2 list, so one string carries both.
 */
export function tlsPolicy(): TlsPolicy {
  return Object.freeze({
    minVersion: 'TLSv1.2',
    ciphers: [...TLS13_CIPHERSUITES, ...TLS12_CIPHERS].join(':'),
    ecdhCurve: ECDH_CURVES,
    honorCipherOrder: true,
    // SSL_OP_NO_RENEGOTIATION: OpenSSL refuses renegotiation for every connection of the
    // context (TLS 1.3 has none; RFC 8446 §4.1.2). hardenTlsSocket() adds Node's own guard.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
  } satisfies TlsPolicy);
}

/** The policy as plain secure-context options (for tls.createSecureContext / setSecureContext). */
export function policyContextOptions(policy: TlsPolicy): SecureContextOptions {
  return {
    minVersion: policy.minVersion,
    ciphers: policy.ciphers,
    ecdhCurve: policy.ecdhCurve,
    honorCipherOrder: policy.honorCipherOrder,
    secureOptions: policy.secureOptions,
  };
}

/** Call on every accepted TLS socket ('secureConnection'): no renegotiation, ever. */
export function hardenTlsSocket(socket: TLSSocket): void {
  socket.disableRenegotiation();
}
