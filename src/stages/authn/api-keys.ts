/**
 * API keys at the gateway: the verifier of src/accounts (ApiKeyVerifier) does the work — format,
 * lookup, constant-time MAC comparison, expiry, revocation, last use. Accepted keys are remembered
 * for `authentication.apiKeys.cacheSeconds` (default 10 s) under SHA-256 of the key, holding the
 * record's public facts only; expiry and the deny-list (`key` entries) are checked on every hit,
 * so a revocation that writes the deny-list takes effect at once.
 */
import { hash } from 'node:crypto';
import type { ApiKeyFailure, ApiKeyVerifier } from '../../core/authn-port.ts';

export interface AcceptedKey {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly expiresAt: number | undefined;
  readonly createdAt: number;
}

export type KeyResult = { readonly ok: true; readonly key: AcceptedKey; readonly cached: boolean } | { readonly ok: false; readonly reason: ApiKeyFailure };

export class ApiKeyGate {
  readonly #verifier: ApiKeyVerifier;
  readonly #ttlMs: number;
  readonly #max: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, { key: AcceptedKey; at: number }>();

  constructor(verifier: ApiKeyVerifier, options: { cacheSeconds: number; maxEntries?: number; now?: () => number }) {
    this.#verifier = verifier;
    this.#ttlMs = options.cacheSeconds * 1000;
    this.#max = options.maxEntries ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Throws when the verifier cannot reach the store (the stage answers 503). */
  async check(presented: string): Promise<KeyResult> {
    if (presented.length === 0) return { ok: false, reason: 'malformed' };
    const now = this.#now();
    const h = this.#ttlMs > 0 ? hash('sha256', presented, 'base64') : '';
    const hit = h ? this.#cache.get(h) : undefined;
    if (hit && now - hit.at < this.#ttlMs) {
      if (hit.key.expiresAt !== undefined && hit.key.expiresAt * 1000 <= now) {
        this.#cache.delete(h);
        return { ok: false, reason: 'expired' };
      }
      return { ok: true, key: hit.key, cached: true };
    }
    const r = await this.#verifier.verify(presented, Math.floor(now / 1000));
    if (!r.ok) {
      if (h) this.#cache.delete(h);
      return r;
    }
    const k = r.key;
    const key: AcceptedKey = { id: k.id, name: k.name, roles: [...k.roles], scopes: [...k.scopes], expiresAt: k.expiresAt, createdAt: k.createdAt };
    if (h) {
      if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(h, { key, at: now });
    }
    return { ok: true, key, cached: false };
  }
}
