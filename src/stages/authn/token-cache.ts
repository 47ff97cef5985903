/**
 * The verified-token cache (S9): keyed by SHA-256 of the token — the token itself is never kept —
 * holding the verified claims only, bounded in entries (the oldest insertion goes first). Expiry is
 * checked on every hit, the deny-list and roles are looked at on every request (not cached here),
 * and the whole cache is cleared when an issuer's keys rotate.
 */
import { hash } from 'node:crypto';
import type { VerifiedToken } from './token.ts';

export function tokenHash(token: string): string {
  return hash('sha256', token, 'base64');
}

export class TokenCache {
  readonly #max: number;
  readonly #entries = new Map<string, VerifiedToken>();
  hits = 0;
  misses = 0;
  clears = 0;

  constructor(maxEntries: number) {
    this.#max = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(key: string): VerifiedToken | undefined {
    const v = this.#entries.get(key);
    if (v) this.hits++;
    else this.misses++;
    return v;
  }

  set(key: string, value: VerifiedToken): void {
    if (this.#max === 0) return;
    if (this.#entries.size >= this.#max && !this.#entries.has(key)) {
      this.#entries.delete(this.#entries.keys().next().value as string);
    }
    this.#entries.set(key, value);
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
    this.clears++;
  }
}
