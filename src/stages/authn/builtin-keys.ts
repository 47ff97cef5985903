/**
 * The built-in authorization server's keys, read in-process from its JWKS (no fetch). A rotation
 * notice rebuilds the set and clears the token cache; an unknown kid rebuilds it at most once a
 * second, in case the notice is still on its way.
 */
import type { Logger } from 'pino';
import type { BuiltinIssuer } from '../../core/authn-port.ts';
import type { JwsAlgorithm } from './config.ts';
import { importJwks } from './jwk.ts';
import { ChangeSignal, KeySet, type KeyLookup, type KeySource } from './key-set.ts';

export class BuiltinKeySource implements KeySource {
  readonly #issuer: BuiltinIssuer;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #changed = new ChangeSignal();
  readonly #unsubscribe: () => void;
  #keys: KeySet | undefined;
  #builtAt = -Infinity;

  constructor(issuer: BuiltinIssuer, logger: Logger, now: () => number = Date.now) {
    this.#issuer = issuer;
    this.#logger = logger;
    this.#now = now;
    this.#unsubscribe = issuer.onKeysChanged(() => {
      this.#rebuild();
      this.#changed.emit();
    });
  }

  onChange(fn: () => void): () => void {
    return this.#changed.on(fn);
  }

  lookup(kid: string | undefined, alg: JwsAlgorithm): KeyLookup {
    if (!this.#keys) this.#rebuild();
    let key = this.#keys?.find(kid, alg);
    if (!key && this.#now() - this.#builtAt >= 1000) {
      const before = this.#keys?.fingerprint;
      this.#rebuild();
      if (this.#keys?.fingerprint !== before) this.#changed.emit();
      key = this.#keys?.find(kid, alg);
    }
    if (key) return { kind: 'found', key };
    return this.#keys ? { kind: 'unknown' } : { kind: 'unavailable', reason: 'built-in issuer has no usable key' };
  }

  #rebuild(): void {
    this.#builtAt = this.#now();
    try {
      const { keys, skipped } = importJwks(this.#issuer.jwks());
      if (skipped.length) this.#logger.warn({ skipped: skipped.slice(0, 10) }, 'authn: built-in JWKS keys skipped');
      this.#keys = keys.length ? new KeySet(keys) : undefined;
    } catch (err) {
      this.#logger.error({ err }, 'authn: cannot read the built-in issuer keys');
      this.#keys = undefined;
    }
  }

  close(): Promise<void> {
    this.#unsubscribe();
    return Promise.resolve();
  }
}
