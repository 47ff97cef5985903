/**
 * The authorization server's token signing keys (ES256, P-256): generated on first start, kept in
 * the store (so every gateway instance signs with the same key and publishes the same JWKS),
 * private parts sealed with the keyring ('signing-keys', associated data = the key id, S4).
 *
 * `rampart keys rotate-signing` makes a new current key; the old one is retired but stays in the
 * JWKS (and in the provider's key set) until every token it signed has expired, then is dropped.
 * Running instances notice the change by polling (authServer.keyPollSeconds).
 */
import { createHash, generateKeyPairSync, type JsonWebKey } from 'node:crypto';
import type { Keyring } from '../secrets/keyring.ts';
import type { OidcStore } from '../store/types.ts';
import { thumbprint, type PublicEcJwk } from '../identity/key-store.ts';

export const SIGNING_KEYS_MODEL = 'RampartSigningKeys';
const PURPOSE = 'signing-keys';
const RECORD_ID = createHash('sha256').update('signing-keys').digest('hex');
const FOREVER = 100 * 365 * 86400;

export interface StoredSigningKey {
  readonly kid: string;
  readonly alg: 'ES256';
  readonly createdAt: number;
  readonly publicJwk: PublicEcJwk;
  readonly sealed: string;
  /** Set when rotated out; dropped once `dropAfter` has passed. */
  readonly retiredAt?: number;
  readonly dropAfter?: number;
}

export interface SigningKeySet {
  /** Current first: oidc-provider signs with the first key of an algorithm. */
  readonly keys: readonly StoredSigningKey[];
  /** Changes whenever the set changes (polling compares it). */
  readonly version: string;
}

export function generateStoredKey(keyring: Keyring, now: number): StoredSigningKey {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = privateKey.export({ format: 'jwk' });
  const publicJwk: PublicEcJwk = { kty: 'EC', crv: 'P-256', x: String(jwk.x), y: String(jwk.y) };
  const kid = thumbprint(publicJwk);
  return { kid, alg: 'ES256', createdAt: now, publicJwk, sealed: keyring.seal(PURPOSE, JSON.stringify(jwk), kid) };
}

function versionOf(keys: readonly StoredSigningKey[]): string {
  return createHash('sha256').update(keys.map((k) => `${k.kid}:${k.retiredAt ?? ''}`).join(',')).digest('base64url').slice(0, 16);
}

function parse(payload: Readonly<Record<string, unknown>>): StoredSigningKey[] | undefined {
  const keys = payload.keys;
  if (!Array.isArray(keys)) return undefined;
  const out: StoredSigningKey[] = [];
  for (const k of keys as Array<Record<string, unknown>>) {
    const jwk = k.publicJwk as PublicEcJwk | undefined;
    if (typeof k.kid !== 'string' || typeof k.sealed !== 'string' || typeof k.createdAt !== 'number' || !jwk || thumbprint(jwk) !== k.kid) return undefined;
    out.push(k as unknown as StoredSigningKey);
  }
  return out;
}

async function write(store: OidcStore, keys: readonly StoredSigningKey[], now: number): Promise<void> {
  await store.upsert({ model: SIGNING_KEYS_MODEL, idHash: RECORD_ID, payload: { version: 1, keys }, expiresAt: now + FOREVER });
}

async function read(store: OidcStore): Promise<StoredSigningKey[] | undefined> {
  const found = await store.find(SIGNING_KEYS_MODEL, RECORD_ID);
  if (!found) return undefined;
  const keys = parse(found.payload);
  if (!keys || keys.length === 0) throw new Error('the stored signing keys are malformed; restore the store from a backup');
  return keys;
}

/** The key set, created on first start; retired keys past their time dropped, old envelopes resealed. */
export async function loadSigningKeys(store: OidcStore, keyring: Keyring, now: number): Promise<SigningKeySet> {
  let keys = await read(store);
  if (!keys) {
    await write(store, [generateStoredKey(keyring, now)], now);
    // Two instances starting at once: whichever write landed last is the key set everyone uses.
    keys = (await read(store)) ?? [];
  }
  let changed = false;
  const live = keys.filter((k) => k.dropAfter === undefined || k.dropAfter > now);
  if (live.length !== keys.length) changed = true;
  const resealed = live.map((k) => {
    if (!keyring.needsReseal(PURPOSE, k.sealed)) return k;
    changed = true;
    return { ...k, sealed: keyring.reseal(PURPOSE, k.sealed, k.kid) };
  });
  if (changed) await write(store, resealed, now);
  return { keys: resealed, version: versionOf(resealed) };
}

/**
 * A new current key; the previous ones are retired and kept `keepSeconds` (the longest access
 * token lifetime plus clock skew) so that tokens they signed still verify until they expire.
 */
export async function rotateSigningKeys(store: OidcStore, keyring: Keyring, now: number, keepSeconds: number): Promise<SigningKeySet> {
  const current = (await loadSigningKeys(store, keyring, now)).keys;
  const retired = current.map((k) => (k.retiredAt === undefined ? { ...k, retiredAt: now, dropAfter: now + keepSeconds } : k));
  const keys = [generateStoredKey(keyring, now), ...retired];
  await write(store, keys, now);
  return { keys, version: versionOf(keys) };
}

/** Private JWKs for oidc-provider's `jwks` (the current key first). */
export function providerJwks(set: SigningKeySet, keyring: Keyring): { keys: JsonWebKey[] } {
  return {
    keys: set.keys.map((k) => {
      const priv = JSON.parse(keyring.open(PURPOSE, k.sealed, k.kid).toString('utf8')) as JsonWebKey;
      if (priv.x !== k.publicJwk.x || priv.y !== k.publicJwk.y) throw new Error(`signing key ${k.kid}: private part does not match its public key`);
      return { ...priv, kid: k.kid, alg: k.alg, use: 'sig' };
    }),
  };
}

/** The public JWKS (RFC 7517), what /auth/jwks serves and the authn stage trusts. */
export function publicJwks(set: SigningKeySet): { keys: Array<PublicEcJwk & { kid: string; alg: string; use: string }> } {
  return { keys: set.keys.map((k) => ({ ...k.publicJwk, kid: k.kid, alg: k.alg, use: 'sig' })) };
}
