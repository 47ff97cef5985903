/**
 * The gateway side of `Rampart-Identity` (DESIGN.md S2): signs, caches and publishes.
 *
 * - Its own ES256 key (not the access-token key), sealed at rest (key-store.ts).
 * - One signature per (principal, upstream, config generation, propagated claims), reused until
 *   less than a third of its lifetime remains: no signature per request.
 * - `jwks()` publishes the current key, the next one (pre-published for rotation) and retired ones
 *   until every token they signed has expired.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { principalKey, type Principal } from '../core/principal.ts';
import type { IdentityTokens } from '../core/identity-port.ts';
import type { Keyring } from '../secrets/keyring.ts';
import {
  IDENTITY_ALG,
  IDENTITY_MAX_LIFETIME_SECONDS,
  IDENTITY_TYP,
  rampartClaim,
} from './claims.ts';
import { generateSigningKey, loadOrCreateKeySet, writeKeySet, type KeySet, type PublicEcJwk } from './key-store.ts';

export const IDENTITY_MIN_LIFETIME_SECONDS = 5;
/** Retired keys stay published for the token lifetime plus this much (clock skew, in-flight requests). */
export const ROTATION_SKEW_SECONDS = 30;
export const DEFAULT_CACHE_SIZE = 10_000;

export interface IdentitySignerOptions {
  readonly dataDir: string;
  readonly keyring: Keyring;
  /** The `iss` of every identity token: the gateway's, distinct from its access-token issuer. */
  readonly issuer: string;
  /** 5 to 60 seconds (the config schema's bounds); more is refused. Default 60. */
  readonly lifetimeSeconds?: number;
  /** Bound of the token cache (least recently used entries go first). Default 10 000. */
  readonly cacheSize?: number;
  /** Milliseconds since the epoch; tests move time. */
  readonly now?: () => number;
}

export interface PublishedJwk extends PublicEcJwk {
  readonly kid: string;
  readonly alg: 'ES256';
  readonly use: 'sig';
}

export interface IdentitySigner extends IdentityTokens {
  readonly issuer: string;
  readonly lifetimeSeconds: number;
  /** The key id that signs now. */
  readonly kid: string;
  tokenFor(principal: Principal, upstreamId: string, generation: number): Promise<string>;
  /** Public keys only. Serve at IDENTITY_JWKS_PATH. */
  jwks(): { readonly keys: readonly PublishedJwk[] };
  /** The next key starts signing; the current one stays published for lifetime + skew. */
  rotate(): Promise<void>;
  stats(): { readonly size: number; readonly hits: number; readonly signatures: number };
}

interface CacheEntry {
  readonly key: string;
  readonly token: Promise<string>;
  /** Milliseconds: from then on, sign a new token. */
  readonly refreshAt: number;
  /** Position in least-recently-used order (see touch()). */
  seq: number;
  /** Evicted, failed or cleared by a rotation: never handed out again. */
  dropped: boolean;
}

export async function createIdentitySigner(options: IdentitySignerOptions): Promise<IdentitySigner> {
  const lifetime = options.lifetimeSeconds ?? IDENTITY_MAX_LIFETIME_SECONDS;
  if (
    !Number.isInteger(lifetime) ||
    lifetime < IDENTITY_MIN_LIFETIME_SECONDS ||
    lifetime > IDENTITY_MAX_LIFETIME_SECONDS
  ) {
    throw new RangeError(
      `identity.lifetimeSeconds must be an integer from ${IDENTITY_MIN_LIFETIME_SECONDS} to ` +
        `${IDENTITY_MAX_LIFETIME_SECONDS} (DESIGN.md S2), got ${String(lifetime)}.`,
    );
  }
  if (typeof options.issuer !== 'string' || options.issuer.length === 0) {
    throw new TypeError('The identity issuer must be a non-empty string.');
  }
  const cacheSize = options.cacheSize ?? DEFAULT_CACHE_SIZE;
  if (!Number.isInteger(cacheSize) || cacheSize < 1) throw new RangeError('cacheSize must be a positive integer.');
  const now = options.now ?? Date.now;
  const { dataDir, keyring, issuer } = options;
  const retention = (lifetime + ROTATION_SKEW_SECONDS) * 1000;

  let keys: KeySet = await loadOrCreateKeySet(dataDir, keyring, now());
  const cache = new Map<string, CacheEntry>();
  let hits = 0;
  let signatures = 0;
  let rotating: Promise<void> = Promise.resolve();

  const sign = (principal: Principal, upstreamId: string, claim: ReturnType<typeof rampartClaim>, iat: number) => {
    signatures += 1;
    const key = keys.current;
    return new SignJWT({ rampart: claim })
      .setProtectedHeader({ alg: IDENTITY_ALG, typ: IDENTITY_TYP, kid: key.kid })
      .setIssuer(issuer)
      .setAudience(upstreamId)
      .setSubject(principal.subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + lifetime)
      .setJti(randomBytes(16).toString('base64url'))
      .sign(key.privateKey);
  };

  /**
   * Per principal object: its claim, the cache-key prefix, and the last entry it was given (most
   * requests of a principal go to the same upstream under the same generation: that lookup then
   * builds no key string and touches no map).
   */
  interface Memo {
    readonly claim: ReturnType<typeof rampartClaim>;
    readonly prefix: string;
    last: { readonly upstreamId: string; readonly generation: number; readonly entry: CacheEntry } | undefined;
  }
  const memos = new WeakMap<Principal, Memo>();
  /**
   * Memos by what a token would assert (identity and claim): authn builds a new principal object
   * per request (roles are resolved per request, S9), and hashing its claim each time was most of
   * the signer's cost for authenticated callers. Bounded like the token cache, oldest out first.
   */
  const byContent = new Map<string, Memo>();
  /** Entries leave the cache by eviction, failure or rotation; `dropped` tells the memo. */
  const drop = (key: string, entry: CacheEntry): void => {
    entry.dropped = true;
    if (cache.get(key) === entry) cache.delete(key);
  };
  let sequence = 0;
  const tokenFor = (principal: Principal, upstreamId: string, generation: number): Promise<string> => {
    if (typeof upstreamId !== 'string' || upstreamId.length === 0) {
      return Promise.reject(new TypeError('upstreamId must be a non-empty string.'));
    }
    // The principal key alone is not enough: two access tokens of one user may carry different
    // scopes or acr, and a token must never assert more than the request that uses it. Principals
    // are immutable, so the claim and its fingerprint are computed once per principal object.
    let memo = memos.get(principal);
    if (memo === undefined) {
      const claim = rampartClaim(principal);
      const identity = principalKey(principal);
      const content = `${identity}\u0000${JSON.stringify(claim)}`;
      memo = byContent.get(content);
      if (memo === undefined) {
        const fingerprint = createHash('sha256').update(JSON.stringify([principal.subject, claim])).digest('base64url');
        memo = { claim, prefix: `${identity}\u0000${fingerprint}\u0000`, last: undefined };
        byContent.set(content, memo);
        if (byContent.size > cacheSize) byContent.delete(byContent.keys().next().value as string);
      }
      memos.set(principal, memo);
    }
    const t = now();
    const last = memo.last;
    if (last !== undefined && last.upstreamId === upstreamId && last.generation === generation && !last.entry.dropped && t < last.entry.refreshAt) {
      hits += 1;
      touch(last.entry);
      return last.entry.token;
    }
    const claim = memo.claim;
    const cacheKey = `${memo.prefix}${upstreamId}\u0000${generation}`;
    const hit = cache.get(cacheKey);
    if (hit !== undefined && t < hit.refreshAt) {
      hits += 1;
      touch(hit);
      memo.last = { upstreamId, generation, entry: hit };
      return hit.token;
    }
    const iat = Math.floor(t / 1000);
    const token = sign(principal, upstreamId, claim, iat);
    // Reuse while more than a third of the lifetime remains.
    const entry: CacheEntry = { key: cacheKey, token, refreshAt: (iat + lifetime - lifetime / 3) * 1000, seq: ++sequence, dropped: false };
    if (hit !== undefined) drop(cacheKey, hit);
    cache.set(cacheKey, entry);
    while (cache.size > cacheSize) {
      const oldest = cache.entries().next().value;
      if (oldest === undefined) break;
      drop(oldest[0], oldest[1]);
    }
    memo.last = { upstreamId, generation, entry };
    token.catch(() => drop(cacheKey, entry));
    return token;
  };
  /**
   * Least recently used order, lazily: an entry hit while it is among the newest quarter of the
   * cache stays where it is (no map write per request); an older one moves to the end. Eviction
   * takes the oldest in that order, so an entry goes only once three quarters of the cache size
   * were added or moved after its last use (exact LRU: the whole cache size).
   */
  const touch = (entry: CacheEntry): void => {
    if (sequence - entry.seq <= cacheSize / 4 || entry.dropped) return;
    entry.seq = ++sequence;
    cache.delete(entry.key);
    cache.set(entry.key, entry);
  };

  const published = (k: { kid: string; publicJwk: PublicEcJwk }): PublishedJwk =>
    Object.freeze({ ...k.publicJwk, kid: k.kid, alg: IDENTITY_ALG, use: 'sig' });

  const rotate = (): Promise<void> => {
    const run = async () => {
      const t = now();
      const next: KeySet = {
        current: keys.next,
        next: generateSigningKey(keyring, t),
        retired: [
          { kid: keys.current.kid, publicJwk: keys.current.publicJwk, retiredAt: t },
          ...keys.retired.filter((r) => r.retiredAt + retention > t),
        ],
      };
      await writeKeySet(dataDir, next, 'replace');
      // Swapped and cleared in one tick: an entry signed by the old key cannot survive the clear.
      keys = next;
      for (const entry of cache.values()) entry.dropped = true;
      cache.clear();
    };
    rotating = rotating.then(run, run);
    return rotating;
  };

  return {
    issuer,
    lifetimeSeconds: lifetime,
    get kid() {
      return keys.current.kid;
    },
    tokenFor,
    jwks: () => {
      const t = now();
      return Object.freeze({
        keys: Object.freeze([
          published(keys.current),
          published(keys.next),
          ...keys.retired.filter((r) => r.retiredAt + retention > t).map(published),
        ]),
      });
    },
    rotate,
    stats: () => ({ size: cache.size, hits, signatures }),
  };
}
