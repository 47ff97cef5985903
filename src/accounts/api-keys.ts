/**
 * API keys for service-to-service calls (`X-API-Key`): creation (the key is shown once), listing,
 * revocation, and verification for the authn stage (ApiKeyVerifier of src/core/authn-port.ts).
 *
 * At rest only HMAC-SHA-256 of `rmp_<id>_<secret>` with the keyring's 'api-key-pepper' MAC subkey
 * (S4), with that subkey's kid so a master-key rotation keeps old keys verifiable; a stolen
 * database alone cannot check a guessed key. The MAC is compared with crypto.timingSafeEqual. A key
 * MAC'd by an older master key is re-MAC'd with the current one the first time it verifies.
 * Last use is recorded in batches off the request path.
 */
import crypto from 'node:crypto';
import type { Keyring } from '../secrets/keyring.ts';
import type { ApiKeyRecord, EpochSeconds, Store } from '../store/types.ts';
import { newApiKey, parseApiKey } from './api-key-format.ts';

export type ApiKeyFailure = 'malformed' | 'unknown' | 'mismatch' | 'revoked' | 'expired';
export type ApiKeyCheck = { readonly ok: true; readonly key: ApiKeyRecord } | { readonly ok: false; readonly reason: ApiKeyFailure };

export interface NewApiKey {
  readonly name: string;
  readonly roles: readonly string[];
  readonly scopes?: readonly string[];
  readonly expiresAt?: EpochSeconds;
}

export interface ApiKeyService {
  /** Creates a key; `key` is the only time the secret exists outside the caller's hands. */
  create(input: NewApiKey): Promise<{ readonly key: string; readonly record: ApiKeyRecord }>;
  /** The authn stage's check (src/core/authn-port.ts ApiKeyVerifier). Rejects when the store fails. */
  verify(presented: string, now: EpochSeconds): Promise<ApiKeyCheck>;
  /** Revokes and puts the id on the deny-list so gateway caches drop it at once (S9). */
  revoke(id: string, reason?: string): Promise<boolean>;
  list(): Promise<ApiKeyRecord[]>;
  /** Writes the pending last-use times and stops the timer. */
  close(): Promise<void>;
}

export interface ApiKeyServiceOptions {
  readonly store: Pick<Store, 'apiKeys' | 'denyList'>;
  readonly keyring: Keyring;
  readonly now?: () => EpochSeconds;
  /** How often recorded uses are written (default 30 s). */
  readonly touchIntervalMs?: number;
  /** How long a deny-list entry for a revoked key without expiry lives (default 30 days; caches live far less). */
  readonly denyTtlSeconds?: number;
}

const MAC_BYTES = 32;
const NAME = /^[\p{L}\p{N} ._:@\/-]{1,100}$/u;

export function createApiKeyService(options: ApiKeyServiceOptions): ApiKeyService {
  const { store, keyring } = options;
  const now = options.now ?? (() => Math.floor(Date.now() / 1000));
  // Compared against when the id is unknown, so that path does the same work as a mismatch.
  const dummyMac = Buffer.alloc(MAC_BYTES);
  const pending = new Map<string, EpochSeconds>();
  const flush = async (): Promise<void> => {
    if (pending.size === 0) return;
    const batch = [...pending];
    pending.clear();
    // One transaction for the batch: on SQLite one durable write instead of one per key.
    await store.apiKeys.touchMany(batch).catch(() => undefined);
  };
  const timer = setInterval(() => void flush(), options.touchIntervalMs ?? 30_000);
  timer.unref();

  const macOf = (body: string, kid?: string): Buffer | undefined => {
    try {
      return Buffer.from(keyring.mac('api-key-pepper', body, kid).mac, 'base64url');
    } catch {
      return undefined; // a kid of a master key no longer configured: the key cannot be verified
    }
  };

  return {
    async create(input) {
      if (!NAME.test(input.name)) throw new TypeError('an API key name has 1 to 100 letters, digits, spaces or . _ : @ / -');
      const { id, key, body } = newApiKey();
      const { kid, mac } = keyring.mac('api-key-pepper', body);
      const record: ApiKeyRecord = {
        id, name: input.name, secretMac: Buffer.from(mac, 'base64url').toString('hex'), pepperKid: kid,
        roles: [...input.roles], scopes: [...(input.scopes ?? [])], createdAt: now(),
        ...(input.expiresAt !== undefined ? { expiresAt: input.expiresAt } : {}),
      };
      await store.apiKeys.create(record);
      return { key, record };
    },

    async verify(presented, at) {
      const parsed = parseApiKey(presented);
      if (!parsed) return { ok: false, reason: 'malformed' };
      const record = await store.apiKeys.get(parsed.id);
      const expected = record && /^[0-9a-f]{64}$/.test(record.secretMac) ? Buffer.from(record.secretMac, 'hex') : dummyMac;
      const actual = macOf(parsed.body, record?.pepperKid) ?? Buffer.alloc(MAC_BYTES, 0xff);
      // Constant time: how many leading bytes agree never shows in the time taken.
      const equal = crypto.timingSafeEqual(actual, expected);
      if (!record) return { ok: false, reason: 'unknown' };
      if (!equal || expected === dummyMac) return { ok: false, reason: 'mismatch' };
      if (record.revokedAt !== undefined) return { ok: false, reason: 'revoked' };
      if (record.expiresAt !== undefined && record.expiresAt <= at) return { ok: false, reason: 'expired' };
      pending.set(record.id, Math.max(pending.get(record.id) ?? 0, Math.floor(at)));
      if (record.pepperKid !== keyring.currentKid('api-key-pepper')) {
        // Made before a master-key rotation: re-MAC with the current pepper now that the secret is
        // at hand, so the old master key can be dropped later (S4). Off the answer's path.
        const next = keyring.mac('api-key-pepper', parsed.body);
        const to = { secretMac: Buffer.from(next.mac, 'base64url').toString('hex'), pepperKid: next.kid };
        void store.apiKeys.replaceMac(record.id, { secretMac: record.secretMac, pepperKid: record.pepperKid }, to).catch(() => undefined);
      }
      return { ok: true, key: record };
    },

    async revoke(id, reason = 'revoked') {
      const record = await store.apiKeys.get(id);
      if (!record) return false;
      const at = now();
      const changed = await store.apiKeys.revoke(id, at);
      const expiresAt = record.expiresAt ?? at + (options.denyTtlSeconds ?? 30 * 86_400);
      if (changed && expiresAt > at) await store.denyList.add({ kind: 'key', value: id, notBefore: at, expiresAt, reason });
      return changed;
    },

    list: () => store.apiKeys.list(),

    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
