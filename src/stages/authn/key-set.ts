/**
 * Where an issuer's verification keys come from. Lookups answer `found`, `unknown` (the key set is
 * fresh and has no such key: the token is invalid) or `unavailable` (no usable key set: fail closed).
 */
import type { JwsAlgorithm } from './config.ts';
import type { VerificationKey } from './jwk.ts';

export type KeyLookup =
  | { readonly kind: 'found'; readonly key: VerificationKey }
  | { readonly kind: 'unknown' }
  | { readonly kind: 'unavailable'; readonly reason: string };

export interface KeySource {
  lookup(kid: string | undefined, alg: JwsAlgorithm): KeyLookup | Promise<KeyLookup>;
  /** Calls `fn` whenever the key set changes (rotation); returns the unsubscribe function. */
  onChange(fn: () => void): () => void;
  close(): Promise<void>;
}

/** An immutable set of keys indexed by kid. */
export class KeySet {
  readonly #byKid = new Map<string, VerificationKey[]>();
  readonly #all: readonly VerificationKey[];
  /** Sorted kids and algorithms: compared to tell a rotation from a plain refetch. */
  readonly fingerprint: string;

  constructor(keys: readonly VerificationKey[]) {
    this.#all = keys;
    for (const k of keys) {
      if (k.kid === undefined) continue;
      const list = this.#byKid.get(k.kid) ?? [];
      list.push(k);
      this.#byKid.set(k.kid, list);
    }
    this.fingerprint = keys
      .map((k) => `${k.kid ?? ''}:${[...k.algs].sort().join(',')}:${k.key.export({ format: 'jwk' }).x ?? k.key.export({ format: 'jwk' }).n ?? ''}`)
      .sort()
      .join('|');
  }

  get size(): number {
    return this.#all.length;
  }

  /**
   * The key for a token's (kid, alg). Without a kid, only an unambiguous set (exactly one key for
   * the algorithm) answers, so a token cannot make the gateway try keys one after another.
   */
  find(kid: string | undefined, alg: JwsAlgorithm): VerificationKey | undefined {
    if (kid !== undefined) return this.#byKid.get(kid)?.find((k) => k.algs.has(alg));
    const fitting = this.#all.filter((k) => k.algs.has(alg));
    return fitting.length === 1 ? fitting[0] : undefined;
  }
}

/** A small fan-out of change listeners. */
export class ChangeSignal {
  readonly #listeners = new Set<() => void>();
  on(fn: () => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
  emit(): void {
    for (const fn of this.#listeners) {
      try {
        fn();
      } catch {
        /* a listener never breaks the others */
      }
    }
  }
}
