/**
 * An external issuer's keys: OpenID Connect Discovery 1.0 (the discovered `issuer` must equal the
 * configured one, §4.3), then its `jwks_uri`, both through the S8 fetcher.
 *
 * Cache rules (issue 3 §6):
 * - keys are refreshed in the background once older than `refreshSeconds`, the old set serving
 *   meanwhile;
 * - a token with an unknown `kid` triggers at most one refetch per `cooldownSeconds`, and every
 *   request waiting for keys shares the same fetch (single-flight): no refetch storm;
 * - a set older than `maxStalenessSeconds` (the issuer unreachable that long) is no longer used:
 *   requests fail closed until a fetch succeeds.
 */
import type { Logger } from 'pino';
import type { JwsAlgorithm } from './config.ts';
import { importJwks } from './jwk.ts';
import { ChangeSignal, KeySet, type KeyLookup, type KeySource } from './key-set.ts';
import { FetchError, type SafeFetcher } from './fetch.ts';

export interface RemoteKeyOptions {
  readonly issuer: string;
  readonly jwksUri?: string;
  readonly refreshSeconds: number;
  readonly cooldownSeconds: number;
  readonly maxStalenessSeconds: number;
  readonly fetcher: Pick<SafeFetcher, 'json' | 'close'>;
  readonly logger: Logger;
  /** Milliseconds since the epoch (tests move it). */
  readonly now?: () => number;
}

/** OIDC Discovery 1.0 §4: the issuer with any trailing `/` removed, then the well-known path. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

export class RemoteKeySource implements KeySource {
  readonly #o: RemoteKeyOptions;
  readonly #now: () => number;
  readonly #changed = new ChangeSignal();
  #keys: KeySet | undefined;
  #fetchedAt = 0;
  #attemptedAt = -Infinity;
  #inflight: Promise<void> | undefined;
  #lastError: string | undefined;
  /** Fetches made (tests and metrics read it). */
  fetches = 0;

  constructor(options: RemoteKeyOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
  }

  onChange(fn: () => void): () => void {
    return this.#changed.on(fn);
  }

  lookup(kid: string | undefined, alg: JwsAlgorithm): KeyLookup | Promise<KeyLookup> {
    const now = this.#now();
    const fresh = this.#fresh(now);
    if (fresh) {
      const key = fresh.find(kid, alg);
      if (key) {
        if (now - this.#fetchedAt > this.#o.refreshSeconds * 1000 && this.#mayFetch(now)) void this.#refresh();
        return { kind: 'found', key };
      }
      // An unknown kid may be a new key after a rotation: refetch, at most once per cooldown.
      if (!this.#mayFetch(now)) return { kind: 'unknown' };
      return this.#refresh().then(() => this.#answer(kid, alg));
    }
    if (!this.#mayFetch(now) && !this.#inflight) return { kind: 'unavailable', reason: this.#lastError ?? 'keys not fetched yet' };
    return this.#refresh().then(() => this.#answer(kid, alg));
  }

  #answer(kid: string | undefined, alg: JwsAlgorithm): KeyLookup {
    const set = this.#fresh(this.#now());
    if (!set) return { kind: 'unavailable', reason: this.#lastError ?? 'no usable keys' };
    const key = set.find(kid, alg);
    return key ? { kind: 'found', key } : { kind: 'unknown' };
  }

  #fresh(now: number): KeySet | undefined {
    return this.#keys && now - this.#fetchedAt <= this.#o.maxStalenessSeconds * 1000 ? this.#keys : undefined;
  }

  #mayFetch(now: number): boolean {
    return now - this.#attemptedAt >= this.#o.cooldownSeconds * 1000;
  }

  /** Single-flight: every caller during a fetch waits for the same one. Never rejects. */
  #refresh(): Promise<void> {
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  async #fetch(): Promise<void> {
    this.#attemptedAt = this.#now();
    this.fetches++;
    try {
      const jwksUri = this.#o.jwksUri ?? (await this.#discover());
      const { keys, skipped } = importJwks(await this.#o.fetcher.json(jwksUri));
      if (keys.length === 0) throw new FetchError(`no usable key in the JWKS${skipped.length ? ` (${skipped.slice(0, 3).join('; ')})` : ''}`);
      const next = new KeySet(keys);
      const rotated = this.#keys !== undefined && this.#keys.fingerprint !== next.fingerprint;
      this.#keys = next;
      this.#fetchedAt = this.#now();
      this.#lastError = undefined;
      if (skipped.length) this.#o.logger.warn({ issuer: this.#o.issuer, skipped: skipped.slice(0, 10) }, 'authn: JWKS keys skipped');
      if (rotated) {
        this.#o.logger.info({ issuer: this.#o.issuer, keys: next.size }, 'authn: issuer keys rotated');
        this.#changed.emit();
      }
    } catch (err) {
      this.#lastError = err instanceof FetchError ? err.reason : 'unexpected error';
      this.#o.logger.warn({ issuer: this.#o.issuer, reason: this.#lastError }, 'authn: cannot fetch the issuer keys');
    }
  }

  async #discover(): Promise<string> {
    const doc = (await this.#o.fetcher.json(discoveryUrl(this.#o.issuer))) as Record<string, unknown> | null;
    if (typeof doc !== 'object' || doc === null) throw new FetchError('discovery document is not an object');
    // OIDC Discovery 1.0 §4.3: the issuer value returned MUST be identical to the one configured
    // (S8): otherwise another issuer's keys could be taken for this one's.
    if (doc.issuer !== this.#o.issuer) throw new FetchError('discovered issuer differs from the configured one');
    if (typeof doc.jwks_uri !== 'string' || !doc.jwks_uri.startsWith('https://')) throw new FetchError('discovery has no https jwks_uri');
    return doc.jwks_uri;
  }

  close(): Promise<void> {
    return this.#o.fetcher.close();
  }
}
