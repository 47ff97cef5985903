/**
 * The throttle's waiting room (`onExceed: queue`). The store decides *how long* a request waits
 * (a GCRA reservation: its slot in the key's schedule); this queue bounds *how many* wait and
 * releases them in order:
 *
 * - bounded: at most `maxLength` requests wait in all, and none longer than `maxWaitMs` (the store
 *   refuses reservations beyond it);
 * - fair across keys: one key holds at most `maxPerKey` places, so one client cannot fill the
 *   queue and lock everyone else out;
 * - ordered per key: a key's requests leave in the order they arrived, each once its own wait is
 *   over and every earlier one of the same key has left (or gone away).
 *
 * A place is taken before the store is asked (so concurrent checks cannot overfill the queue) and
 * given back at once when no wait is needed.
 */
import type { Clock } from './clock.ts';

export interface QueueSettings {
  readonly maxLength: number;
  readonly maxPerKey: number;
  readonly maxWaitMs: number;
}

export interface Ticket {
  readonly key: string;
  due: boolean;
  done: boolean;
  resolve: ((ok: boolean) => void) | undefined;
  cancel: (() => void) | undefined;
}

export class DelayQueue {
  settings: QueueSettings;
  readonly #clock: Clock;
  readonly #byKey = new Map<string, Ticket[]>();
  #length = 0;

  constructor(settings: QueueSettings, clock: Clock) {
    this.settings = settings;
    this.#clock = clock;
  }

  get length(): number {
    return this.#length;
  }

  waitingFor(key: string): number {
    return this.#byKey.get(key)?.length ?? 0;
  }

  /** Takes a place for `key`, or undefined when the queue or the key's share is full. */
  take(key: string): Ticket | undefined {
    if (this.#length >= this.settings.maxLength) return undefined;
    const list = this.#byKey.get(key);
    if (list && list.length >= this.settings.maxPerKey) return undefined;
    const t: Ticket = { key, due: false, done: false, resolve: undefined, cancel: undefined };
    if (list) list.push(t);
    else this.#byKey.set(key, [t]);
    this.#length++;
    return t;
  }

  /** Gives the place back (no wait was needed, or the request was refused). */
  release(t: Ticket): void {
    const list = this.#remove(t);
    if (list) this.#releaseReady(list);
  }

  #remove(t: Ticket): Ticket[] | undefined {
    if (t.done) return undefined;
    t.done = true;
    t.cancel?.();
    this.#length--;
    const list = this.#byKey.get(t.key);
    if (!list) return undefined;
    const i = list.indexOf(t);
    if (i !== -1) list.splice(i, 1);
    if (list.length > 0) return list;
    this.#byKey.delete(t.key);
    return undefined;
  }

  /**
   * Waits `ms`, then until every earlier ticket of the key has left. Resolves true when the
   * request may go on, false when `signal` aborted first (the place is given back either way).
   */
  wait(t: Ticket, ms: number, signal: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      if (signal.aborted) {
        this.release(t);
        return resolve(false);
      }
      const onAbort = () => {
        t.resolve = undefined;
        this.release(t);
        resolve(false);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      t.resolve = (ok) => {
        signal.removeEventListener('abort', onAbort);
        resolve(ok);
      };
      t.cancel = this.#clock.setTimer(() => {
        t.cancel = undefined;
        t.due = true;
        const list = this.#byKey.get(t.key);
        if (list) this.#releaseReady(list);
      }, ms);
    });
  }

  /** Lets out the due tickets at the head of a key's line, in order. */
  #releaseReady(list: Ticket[]): void {
    while (list.length > 0 && (list[0] as Ticket).due) {
      const head = list[0] as Ticket;
      const resolve = head.resolve;
      head.resolve = undefined;
      this.#remove(head);
      resolve?.(true);
    }
  }
}
