// Reading and checking certificate/key files. Every failure names the file and the problem, so
// that the config layer can add its file/line and the reloader can log why it kept the old pair.
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';

export type TlsFileProblem =
  | 'unreadable' | 'not_a_certificate' | 'not_a_private_key' | 'key_mismatch'
  | 'expired' | 'not_yet_valid' | 'name_not_covered';

export class TlsFileError extends Error {
  readonly file: string;
  readonly problem: TlsFileProblem;
  constructor(file: string, problem: TlsFileProblem, detail: string, options?: ErrorOptions) {
    super(`${file}: ${detail}`, options);
    this.name = 'TlsFileError';
    this.file = file;
    this.problem = problem;
  }
}

export interface CertificatePair {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** The first certificate of certFile (the leaf; intermediates may follow it). */
  readonly certificate: X509Certificate;
  /** SHA-256 over both files' bytes: tells whether a reload changes anything. */
  readonly digest: string;
}

export interface PairChecks {
  now?: Date;
  /** Server names the certificate must cover (`*.example.com` checks one label under it). */
  names?: readonly string[];
}

/** Reads certFile and keyFile and checks: PEM, key matches, valid now, covers `names`. */
export function loadCertificatePair(certFile: string, keyFile: string, checks: PairChecks = {}): CertificatePair {
  const certPem = readText(certFile, 'certificate');
  const keyPem = readText(keyFile, 'private key');
  const certificate = parseCertificate(certFile, certPem);
  let key: KeyObject;
  try {
    key = createPrivateKey(keyPem);
  } catch (cause) {
    throw new TlsFileError(keyFile, 'not_a_private_key', `not a usable PEM private key (${message(cause)})`, { cause });
  }
  if (!certificate.checkPrivateKey(key)) {
    throw new TlsFileError(keyFile, 'key_mismatch', `private key does not match the certificate in ${certFile}`);
  }
  checkValidity(certFile, certificate, checks.now ?? new Date());
  for (const name of checks.names ?? []) {
    const probe = name.startsWith('*.') ? `rampart-probe${name.slice(1)}` : name;
    const covered = isIP(probe) === 0 ? certificate.checkHost(probe) : certificate.checkIP(probe);
    if (covered === undefined) {
      throw new TlsFileError(certFile, 'name_not_covered', `certificate does not cover server name "${name}" (it has ${certificate.subjectAltName ?? 'no subjectAltName'})`);
    }
  }
  const digest = createHash('sha256').update(certPem).update('\0').update(keyPem).digest('hex');
  return { certFile, keyFile, certPem, keyPem, certificate, digest };
}

/** Reads a PEM bundle of CA certificates (for client-certificate or upstream verification). */
export function loadCaBundle(caFile: string, now: Date = new Date()): string {
  const pem = readText(caFile, 'CA certificate');
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new TlsFileError(caFile, 'not_a_certificate', 'no PEM certificate in the file');
  // An expired CA in a bundle verifies nothing but harms nothing; a bundle with none valid is an error.
  const problems: TlsFileError[] = [];
  for (const block of blocks) {
    try {
      checkValidity(caFile, parseCertificate(caFile, block), now);
    } catch (err) {
      if (!(err instanceof TlsFileError) || err.problem === 'not_a_certificate') throw err;
      problems.push(err);
    }
  }
  if (problems.length === blocks.length && problems[0] !== undefined) throw problems[0];
  return pem;
}

/** The DNS names of a certificate's subjectAltName (lower-case), for SNI when none are configured. */
export function dnsNames(certificate: X509Certificate): string[] {
  return (certificate.subjectAltName ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4).toLowerCase());
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new TlsFileError(file, 'unreadable', `cannot read the ${what} (${message(cause)})`, { cause });
  }
}

function parseCertificate(file: string, pem: string): X509Certificate {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) {
    throw new TlsFileError(file, 'not_a_certificate', 'no PEM certificate in the file');
  }
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw new TlsFileError(file, 'not_a_certificate', `not a valid PEM certificate (${message(cause)})`, { cause });
  }
}

function checkValidity(file: string, cert: X509Certificate, now: Date): void {
  if (cert.validToDate.getTime() <= now.getTime()) {
    throw new TlsFileError(file, 'expired', `certificate "${cert.subject.replace(/\n/g, ', ')}" expired on ${cert.validToDate.toISOString()}`);
  }
  if (cert.validFromDate.getTime() > now.getTime()) {
    throw new TlsFileError(file, 'not_yet_valid', `certificate "${cert.subject.replace(/\n/g, ', ')}" is not valid before ${cert.validFromDate.toISOString()}`);
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
