/**
 * A local copy of the store's deny-list (S9), refreshed by polling `changedSince`, so that a check
 * costs a map lookup and no store round trip. When the copy is older than `maxStalenessSeconds`
 * (the store unreachable that long) — or before the first poll succeeded — `fresh` is false and
 * the stage fails closed: a revoked grant must never work because the store is down.
 */
import type { Logger } from 'pino';
import type { DenyEntry, DenyKind, DenyList } from '../../store/types.ts';

export interface DenyMirrorOptions {
  readonly pollSeconds: number;
  readonly maxStalenessSeconds: number;
  readonly logger: Logger;
  /** Milliseconds since the epoch (tests move it). */
  readonly now?: () => number;
}

export interface DenySubject {
  readonly issuer: string;
  readonly kind: string;
  readonly subject: string;
  readonly clientId?: string | undefined;
  readonly grantId?: string | undefined;
  readonly keyId?: string | undefined;
  /** When the credential was issued (seconds); cut-offs refuse what was issued at or before them. */
  readonly issuedAt: number;
}

/** The deny-list value of a subject: `issuer|kind|subject` (src/store/types.ts DenyEntry). */
export function subjectValue(issuer: string, kind: string, subject: string): string {
  return `${issuer}|${kind}|${subject}`;
}

export class DenyMirror {
  readonly #source: DenyList;
  readonly #o: DenyMirrorOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, DenyEntry>();
  #since = 0;
  #okAt = -Infinity;
  #timer: NodeJS.Timeout | undefined;
  #polling: Promise<void> | undefined;
  #failing = false;
  /** Resolves after the first poll (successful or not). */
  readonly ready: Promise<void>;

  constructor(source: DenyList, options: DenyMirrorOptions) {
    this.#source = source;
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.ready = this.poll();
    this.#timer = setInterval(() => void this.poll(), options.pollSeconds * 1000);
    this.#timer.unref();
  }

  get fresh(): boolean {
    return this.#now() - this.#okAt <= this.#o.maxStalenessSeconds * 1000;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** One poll (never rejects); concurrent callers share it. */
  poll(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    const startedAt = this.#now();
    try {
      const changed = await this.#source.changedSince(this.#since);
      let high = this.#since;
      for (const e of changed) {
        this.#entries.set(`${e.kind}\u0000${e.value}`, e);
        if (e.changedAt !== undefined && e.changedAt > high) high = e.changedAt;
      }
      // `changedSince` is inclusive: the highest changedAt seen is asked again, never skipped.
      this.#since = high;
      const nowSeconds = startedAt / 1000;
      for (const [k, e] of this.#entries) if (e.expiresAt <= nowSeconds) this.#entries.delete(k);
      this.#okAt = startedAt;
      if (this.#failing) this.#o.logger.info('authn: deny-list reachable again');
      this.#failing = false;
    } catch (err) {
      if (!this.#failing) this.#o.logger.error({ err: (err as { code?: string }).code ?? String(err).slice(0, 200) }, 'authn: cannot poll the deny-list; credentials fail closed once it is stale');
      this.#failing = true;
    }
  }

  #hit(kind: DenyKind, value: string | undefined, issuedAt: number): DenyEntry | undefined {
    if (value === undefined) return undefined;
    const e = this.#entries.get(`${kind}\u0000${value}`);
    if (!e || e.expiresAt * 1000 <= this.#now()) return undefined;
    // Grants and API keys are withdrawn for good; subjects and clients up to a cut-off (S9).
    if (kind === 'grant' || kind === 'key') return e;
    return issuedAt <= e.notBefore ? e : undefined;
  }

  /** The entry that withdraws this credential, if any. */
  denied(s: DenySubject): DenyEntry | undefined {
    if (this.#entries.size === 0) return undefined;
    return (
      this.#hit('grant', s.grantId, s.issuedAt) ??
      this.#hit('key', s.keyId, s.issuedAt) ??
      this.#hit('subject', subjectValue(s.issuer, s.kind, s.subject), s.issuedAt) ??
      (s.clientId !== undefined ? this.#hit('client', s.clientId, s.issuedAt) : undefined)
    );
  }

  close(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
