// The local development CA (DESIGN practice 1 and S4): created on first start with `tls.dev: true`,
// name-constrained to loopback so that a developer who trusts it trusts nothing else.
import { createPrivateKey, generateKeyPair, randomBytes, X509Certificate } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { chmod, mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { promisify } from 'node:util';
import { AsnConvert } from '@peculiar/asn1-schema';
import { Certificate, id_ce_nameConstraints } from '@peculiar/asn1-x509';
import { isLoopbackHost } from './loopback.ts';
import { issueCertificate } from './x509.ts';

export { assertDevCertificatesAllowed, isLoopbackHost } from './loopback.ts';

export interface DevCertificates {
  caCertPath: string;
  caCertPem: string;
  /** The leaf served by the listener, and its key (files beside the CA, mode 0600). */
  certPath: string;
  keyPath: string;
  certPem: string;
  keyPem: string;
  /** What this call created (the caller tells the developer to trust a new CA). */
  created: { ca: boolean; leaf: boolean };
}

/** Names every development leaf carries. */
export const DEV_DEFAULT_NAMES: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '::1']);
/** What the CA may certify (RFC 5280 §4.2.1.10 permittedSubtrees). */
export const DEV_CA_PERMITTED = Object.freeze({ dns: ['localhost', '.localhost'], ip: ['127.0.0.0/8', '::1/128'] });

const DAY = 86_400_000;
const CA_LIFETIME = 730 * DAY;
const LEAF_LIFETIME = 90 * DAY;
const RENEW_BEFORE = 30 * DAY;
const BACKDATE = 60 * 60_000; // tolerate an hour of clock skew
const generateKeyPairAsync = promisify(generateKeyPair);

/**
 * Returns the development certificates under `<dataDir>/tls/`, creating the CA (2 years) and a
 * leaf for localhost/127.0.0.1/::1 plus `names` (90 days) when missing, invalid or near expiry.
 * The leaf is reissued when the CA changed or a requested name is not covered.
 */
export async function ensureDevCertificates(dataDir: string, names: string[] = []): Promise<DevCertificates> {
  for (const name of names) {
    if (!isLoopbackHost(name)) {
      throw new Error(`development certificate: "${name}" is not a loopback name or address; the development CA only certifies localhost, *.localhost, 127.0.0.0/8 and ::1`);
    }
  }
  const wanted = [...new Set([...DEV_DEFAULT_NAMES, ...names.map(normaliseName)])];
  const dir = join(resolve(dataDir), 'tls');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const paths = {
    caCert: join(dir, 'ca.crt'), caKey: join(dir, 'ca.key'),
    cert: join(dir, 'localhost.crt'), key: join(dir, 'localhost.key'),
  };
  return withLock(join(dir, '.lock'), async () => {
    const now = Date.now();
    let ca = await readCa(paths.caCert, paths.caKey, now);
    const caCreated = ca === undefined;
    if (ca === undefined) {
      ca = await createCa(now);
      await writePrivate(paths.caKey, ca.keyPem);
      await writePublic(paths.caCert, ca.certPem);
    }
    let leaf = await readLeaf(paths.cert, paths.key, ca.cert, wanted, now);
    const leafCreated = leaf === undefined;
    if (leaf === undefined) {
      leaf = await createLeaf(ca, wanted, now);
      await writePrivate(paths.key, leaf.keyPem);
      await writePublic(paths.cert, leaf.certPem);
    }
    await chmod(paths.caKey, 0o600);
    await chmod(paths.key, 0o600);
    return {
      caCertPath: paths.caCert, caCertPem: ca.certPem,
      certPath: paths.cert, keyPath: paths.key, certPem: leaf.certPem, keyPem: leaf.keyPem,
      created: { ca: caCreated, leaf: leafCreated },
    };
  });
}

interface Issued { certPem: string; keyPem: string; cert: X509Certificate; key: KeyObject }

async function createCa(now: number): Promise<Issued> {
  const { publicKey, privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const certPem = issueCertificate({
    subject: { organization: 'Rampart development only', commonName: `Rampart Development CA ${randomBytes(4).toString('hex')}` },
    publicKey, issuer: { privateKey },
    notBefore: new Date(now - BACKDATE), notAfter: new Date(now - BACKDATE + CA_LIFETIME),
    ca: { pathLength: 0, permitted: { dns: [...DEV_CA_PERMITTED.dns], ip: [...DEV_CA_PERMITTED.ip] } },
  });
  return { certPem, keyPem: exportKey(privateKey), cert: new X509Certificate(certPem), key: privateKey };
}

async function createLeaf(ca: Issued, names: string[], now: number): Promise<Issued> {
  const { publicKey, privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
  const notBefore = now - BACKDATE;
  const certPem = issueCertificate({
    subject: { organization: 'Rampart development only', commonName: 'localhost' },
    publicKey, issuer: { privateKey: ca.key, certificate: ca.cert },
    notBefore: new Date(notBefore),
    notAfter: new Date(Math.min(notBefore + LEAF_LIFETIME, ca.cert.validToDate.getTime())),
    altNames: names, extendedKeyUsage: ['serverAuth'],
  });
  return { certPem, keyPem: exportKey(privateKey), cert: new X509Certificate(certPem), key: privateKey };
}

/** The CA on disk if it is usable: pair matches, a CA, name-constrained, 30+ days left. */
async function readCa(certPath: string, keyPath: string, now: number): Promise<Issued | undefined> {
  const pair = await readPair(certPath, keyPath);
  if (pair === undefined || !pair.cert.ca || !hasCriticalNameConstraints(pair.cert)) return undefined;
  if (pair.cert.validToDate.getTime() - now < RENEW_BEFORE || pair.cert.validFromDate.getTime() > now) return undefined;
  return pair;
}

/** The leaf on disk if it is usable: issued by `ca`, covers `names`, 30+ days left. */
async function readLeaf(certPath: string, keyPath: string, ca: X509Certificate, names: string[], now: number): Promise<Issued | undefined> {
  const pair = await readPair(certPath, keyPath);
  if (pair === undefined) return undefined;
  if (pair.cert.checkIssued(ca) === false || !pair.cert.verify(ca.publicKey)) return undefined;
  if (pair.cert.validToDate.getTime() - now < RENEW_BEFORE || pair.cert.validFromDate.getTime() > now) return undefined;
  const covers = (n: string): boolean => (isIP(n) ? pair.cert.checkIP(n) : pair.cert.checkHost(n, { wildcards: false })) !== undefined;
  return names.every(covers) ? pair : undefined;
}

async function readPair(certPath: string, keyPath: string): Promise<Issued | undefined> {
  try {
    const [certPem, keyPem] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8')]);
    const cert = new X509Certificate(certPem);
    const key = createPrivateKey(keyPem);
    return cert.checkPrivateKey(key) ? { certPem, keyPem, cert, key } : undefined;
  } catch {
    return undefined; // missing or unparseable: issue a new one
  }
}

function hasCriticalNameConstraints(cert: X509Certificate): boolean {
  const exts = AsnConvert.parse(cert.raw, Certificate).tbsCertificate.extensions ?? [];
  return exts.some((e) => e.extnID === id_ce_nameConstraints && e.critical);
}

function normaliseName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.startsWith('[') && n.endsWith(']') ? n.slice(1, -1) : n;
}

function exportKey(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** Atomic replace: readers see the old file or the new one, never half of one. */
async function writePrivate(path: string, data: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode: 0o600, flag: 'wx' });
  await rename(tmp, path);
}

async function writePublic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, data, { mode: 0o644, flag: 'wx' });
  await rename(tmp, path);
}

/** A lock file, so that two processes starting together do not issue two CAs. */
async function withLock<T>(lockPath: string, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await (await open(lockPath, 'wx', 0o600)).close();
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await stat(lockPath).catch(() => undefined);
      if (held !== undefined && Date.now() - held.mtimeMs > 30_000) {
        await rm(lockPath, { force: true }); // left by a process that died
        continue;
      }
      if (Date.now() > deadline) {
        throw new Error(`${lockPath}: held by another process for more than 10 s; remove it if no Rampart is starting`);
      }
      await delay(50);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockPath, { force: true });
  }
}
