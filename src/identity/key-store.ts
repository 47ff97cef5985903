/**
 * Persistence of the identity signing keys at `<dataDir>/identity-key.json` (mode 0600).
 *
 * The file holds three kinds of keys: `current` (signs), `next` (already published in the JWKS so
 * that services which refreshed it since the last rotation know the key before it signs anything)
 * and `retired` (public part only, published until every token it signed has expired). Private
 * keys are sealed with the keyring ('identity-key' purpose, associated data = the key id, S4); the
 * key id is the RFC 7638 JWK thumbprint, checked again when the file is read.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { link, mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Keyring } from '../secrets/keyring.ts';

export const IDENTITY_KEY_FILE = 'identity-key.json';
const PURPOSE = 'identity-key';

export interface PublicEcJwk {
  readonly kty: 'EC';
  readonly crv: 'P-256';
  readonly x: string;
  readonly y: string;
}

export interface SigningKey {
  readonly kid: string;
  readonly createdAt: number;
  readonly publicJwk: PublicEcJwk;
  readonly privateKey: KeyObject;
  readonly sealed: string;
}

export interface RetiredKey {
  readonly kid: string;
  readonly publicJwk: PublicEcJwk;
  /** Milliseconds since the epoch. */
  readonly retiredAt: number;
}

export interface KeySet {
  readonly current: SigningKey;
  readonly next: SigningKey;
  readonly retired: readonly RetiredKey[];
}

export class IdentityKeyFileError extends Error {
  readonly code = 'RAMPART_IDENTITY_KEY_FILE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'IdentityKeyFileError';
  }
}

/** RFC 7638 §3.2: the thumbprint of an EC key hashes its required members in lexicographic order. */
export function thumbprint(jwk: PublicEcJwk): string {
  const canonical = JSON.stringify({ crv: jwk.crv, kty: jwk.kty, x: jwk.x, y: jwk.y });
  return createHash('sha256').update(canonical).digest('base64url');
}

export function generateSigningKey(keyring: Keyring, now: number): SigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const publicJwk: PublicEcJwk = { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) };
  const kid = thumbprint(publicJwk);
  const sealed = keyring.seal(PURPOSE, JSON.stringify(jwk), kid);
  return { kid, createdAt: now, publicJwk, privateKey, sealed };
}

/** Reads the key set, or creates it on first start. Reseals keys of an older master key. */
export async function loadOrCreateKeySet(dataDir: string, keyring: Keyring, now: number): Promise<KeySet> {
  const path = join(dataDir, IDENTITY_KEY_FILE);
  let text: string | undefined;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (text === undefined) {
    const created: KeySet = {
      current: generateSigningKey(keyring, now),
      next: generateSigningKey(keyring, now),
      retired: [],
    };
    // Two processes on one data directory must agree on one key: create-if-absent by link().
    if (await writeKeySet(dataDir, created, 'create')) return created;
    return loadOrCreateKeySet(dataDir, keyring, now);
  }
  const set = parseKeySet(text, path, keyring);
  if (keyring.needsReseal(PURPOSE, set.current.sealed) || keyring.needsReseal(PURPOSE, set.next.sealed)) {
    const resealed: KeySet = {
      ...set,
      current: { ...set.current, sealed: keyring.reseal(PURPOSE, set.current.sealed, set.current.kid) },
      next: { ...set.next, sealed: keyring.reseal(PURPOSE, set.next.sealed, set.next.kid) },
    };
    await writeKeySet(dataDir, resealed, 'replace');
    return resealed;
  }
  return set;
}

/** Writes atomically (temporary file, then link or rename). `create` returns false if it existed. */
export async function writeKeySet(dataDir: string, set: KeySet, how: 'create' | 'replace'): Promise<boolean> {
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const path = join(dataDir, IDENTITY_KEY_FILE);
  const tmp = join(dataDir, `.${IDENTITY_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const stored = (k: SigningKey) => ({ kid: k.kid, createdAt: k.createdAt, publicJwk: k.publicJwk, sealed: k.sealed });
  const doc = { version: 1, current: stored(set.current), next: stored(set.next), retired: set.retired };
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(doc, null, 2)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (how === 'replace') {
      await rename(tmp, path);
      return true;
    }
    try {
      await link(tmp, path);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw error;
    }
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

function parseKeySet(text: string, path: string, keyring: Keyring): KeySet {
  const bad = (why: string, cause?: unknown) =>
    new IdentityKeyFileError(
      `${path}: ${why}. Restore it, or delete it to generate a new identity key (services then refetch the JWKS).`,
      cause === undefined ? undefined : { cause },
    );
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (error) {
    throw bad('not valid JSON', error);
  }
  if (!isRecord(doc) || doc.version !== 1) throw bad('unknown format (expected version 1)');
  const signing = (value: unknown, name: string): SigningKey => {
    if (!isRecord(value) || typeof value.sealed !== 'string' || typeof value.createdAt !== 'number') {
      throw bad(`${name} is malformed`);
    }
    const { kid, publicJwk } = publicPart(value, name, bad);
    let priv: Record<string, unknown>;
    try {
      priv = JSON.parse(keyring.open(PURPOSE, value.sealed, kid).toString('utf8')) as Record<string, unknown>;
    } catch (error) {
      throw bad(`${name} cannot be opened with the configured master key(s) (${(error as Error).message})`, error);
    }
    if (priv.x !== publicJwk.x || priv.y !== publicJwk.y || typeof priv.d !== 'string') {
      throw bad(`${name} private key does not match its public key`);
    }
    const privateKey = createPrivateKey({ key: priv as JsonWebKey, format: 'jwk' });
    return { kid, createdAt: value.createdAt, publicJwk, privateKey, sealed: value.sealed };
  };
  const retired = Array.isArray(doc.retired) ? doc.retired : undefined;
  if (retired === undefined) throw bad('retired is not a list');
  return {
    current: signing(doc.current, 'current'),
    next: signing(doc.next, 'next'),
    retired: retired.map((r, i) => {
      if (!isRecord(r) || typeof r.retiredAt !== 'number') throw bad(`retired[${i}] is malformed`);
      return { ...publicPart(r, `retired[${i}]`, bad), retiredAt: r.retiredAt };
    }),
  };
}

function publicPart(
  value: Record<string, unknown>,
  name: string,
  bad: (why: string) => Error,
): { kid: string; publicJwk: PublicEcJwk } {
  const jwk = value.publicJwk;
  if (
    typeof value.kid !== 'string' ||
    !isRecord(jwk) ||
    jwk.kty !== 'EC' ||
    jwk.crv !== 'P-256' ||
    typeof jwk.x !== 'string' ||
    typeof jwk.y !== 'string'
  ) {
    throw bad(`${name} has no valid P-256 public key`);
  }
  const publicJwk: PublicEcJwk = { kty: 'EC', crv: 'P-256', x: jwk.x, y: jwk.y };
  if (thumbprint(publicJwk) !== value.kid) throw bad(`${name} key id is not the thumbprint of its key`);
  return { kid: value.kid, publicJwk };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
