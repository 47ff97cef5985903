/**
 * Smooth weighted round-robin (the nginx algorithm) over the targets that are available now.
 * Each pick adds every eligible target's weight to its running score, takes the highest, and
 * subtracts the eligible total from it: weights 5/1/1 give a a b a c a a, never bursts.
 */
export class Balancer {
  readonly #weights: readonly number[];
  readonly #scores: number[];

  constructor(weights: readonly number[]) {
    this.#weights = weights;
    this.#scores = weights.map(() => 0);
  }

  /** The index of the next target for which `eligible` is true, or undefined when there is none. */
  pick(eligible: (index: number) => boolean): number | undefined {
    let best: number | undefined;
    let total = 0;
    for (let i = 0; i < this.#weights.length; i++) {
      if (!eligible(i)) continue;
      const w = this.#weights[i] ?? 1;
      total += w;
      this.#scores[i] = (this.#scores[i] ?? 0) + w;
      if (best === undefined || (this.#scores[i] ?? 0) > (this.#scores[best] ?? 0)) best = i;
    }
    if (best !== undefined) this.#scores[best] = (this.#scores[best] ?? 0) - total;
    return best;
  }
}
