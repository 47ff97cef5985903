/**
 * The authorization server's token signing keys (ES256, P-256): generated on first start, kept in
 * the store (so every gateway instance signs with the same key and publishes the same JWKS),
 * private parts sealed with the keyring ('signing-keys', associated data = the key id, S4).
 *
 * `rampart keys rotate-signing` adds a new key that is published at once but signs only from
 * `activatesAt` (two polling periods later: every instance, and every JWKS cache of the authn stage,
 * knows it before any token carries it); the old key then stops signing but stays in the JWKS until
 * every token it signed has expired, and is dropped after. Instances notice changes by polling
 * (authServer.keyPollSeconds).
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
  /** A key added by a rotation signs from then on (published before). */
  readonly activatesAt?: number;
  /** Set when rotated out: it stops signing then, and is dropped once `dropAfter` has passed. */
  readonly retiredAt?: number;
  readonly dropAfter?: number;
}

export interface SigningKeySet {
  /** The signing key first (oidc-provider signs with the first key of an algorithm), then the others. */
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

/** The key that signs at `now`: the newest active one that is not retired yet. */
function signingKey(keys: readonly StoredSigningKey[], now: number): StoredSigningKey | undefined {
  const usable = keys.filter((k) => (k.activatesAt ?? 0) <= now && (k.retiredAt === undefined || k.retiredAt > now));
  const pool = usable.length ? usable : keys.filter((k) => (k.activatesAt ?? 0) <= now);
  return [...pool].sort((a, b) => (b.activatesAt ?? b.createdAt) - (a.activatesAt ?? a.createdAt))[0] ?? keys[0];
}

function ordered(keys: readonly StoredSigningKey[], now: number): StoredSigningKey[] {
  const first = signingKey(keys, now);
  return first ? [first, ...keys.filter((k) => k !== first)] : [...keys];
}

function versionOf(keys: readonly StoredSigningKey[]): string {
  return createHash('sha256').update(keys.map((k) => k.kid).join(',')).digest('base64url').slice(0, 16);
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
  const keys2 = ordered(resealed, now);
  return { keys: keys2, version: versionOf(keys2) };
}

/**
 * A new current key; the previous ones are retired and kept `keepSeconds` (the longest access
 * token lifetime plus clock skew) so that tokens they signed still verify until they expire.
 */
export async function rotateSigningKeys(store: OidcStore, keyring: Keyring, now: number, keepSeconds: number, activateAfter = 0): Promise<{ set: SigningKeySet; added: StoredSigningKey }> {
  const current = (await loadSigningKeys(store, keyring, now)).keys;
  const switchAt = now + activateAfter;
  const retired = current.map((k) => (k.retiredAt === undefined ? { ...k, retiredAt: switchAt, dropAfter: switchAt + keepSeconds } : k));
  const added: StoredSigningKey = { ...generateStoredKey(keyring, now), activatesAt: switchAt };
  const keys = [added, ...retired];
  await write(store, keys, now);
  const set = ordered(keys, now);
  return { set: { keys: set, version: versionOf(set) }, added };
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
