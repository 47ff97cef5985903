/**
 * Keeps long-lived objects (connection pools, circuit breakers, counters) across hot reloads.
 *
 * During a compile, stages ask for an object by kind and id with a fingerprint of the settings it
 * depends on. If the previous generation had one with the same kind, id and fingerprint it is
 * handed over; otherwise a new one is made. After a successful swap, objects nobody asked for are
 * disposed once the old generation has drained.
 */
export interface Disposable {
  close?(): void | Promise<void>;
}

interface Entry {
  readonly fingerprint: string;
  readonly value: unknown;
  readonly dispose: ((value: unknown) => void | Promise<void>) | undefined;
}

export class Keeper {
  #live = new Map<string, Entry>();
  #pending = new Map<string, Entry>();

  /** Returns the kept object for (kind, id) when the fingerprint matches, else creates one. */
  keep<T>(kind: string, id: string, fingerprint: string, create: () => T, dispose?: (value: T) => void | Promise<void>): T {
    const key = `${kind}\u0000${id}`;
    const pending = this.#pending.get(key);
    if (pending && pending.fingerprint === fingerprint) return pending.value as T;
    const live = this.#live.get(key);
    const entry: Entry =
      live && live.fingerprint === fingerprint
        ? live
        : { fingerprint, value: create(), dispose: dispose as Entry['dispose'] };
    this.#pending.set(key, entry);
    return entry.value as T;
  }

  /** The compile succeeded: returns a function that disposes what the new generation dropped. */
  commit(): () => Promise<void> {
    const dropped: Entry[] = [];
    for (const [key, entry] of this.#live) {
      const kept = this.#pending.get(key);
      if (kept !== entry) dropped.push(entry);
    }
    this.#live = this.#pending;
    this.#pending = new Map();
    return async () => {
      for (const e of dropped) await e.dispose?.(e.value);
    };
  }

  /** The compile failed: forget what it made (disposing what was newly created). */
  async abort(): Promise<void> {
    const made = [...this.#pending.entries()].filter(([k, e]) => this.#live.get(k) !== e);
    this.#pending = new Map();
    for (const [, e] of made) await e.dispose?.(e.value);
  }

  async closeAll(): Promise<void> {
    const all = [...this.#live.values()];
    this.#live = new Map();
    for (const e of all) await e.dispose?.(e.value);
  }
}
