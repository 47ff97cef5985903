// The certificates of one listener: chosen by SNI, client-certificate settings per name, and
// reloaded from disk without a restart. A replacement that does not load (unreadable, key
// mismatch, expired, name not covered) is refused and the pair in service keeps serving.
import { constants } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { PeerCertificate, SecureContext, SecureContextOptions, TLSSocket } from 'node:tls';
import { ensureDevCertificates } from './dev-ca.ts';
import { watchFiles } from './file-watch.ts';
import type { FileWatcher, WatchOptions } from './file-watch.ts';
import { dnsNames, loadCaBundle, loadCertificatePair } from './pem-files.ts';
import type { CertificatePair } from './pem-files.ts';
import { policyContextOptions, tlsPolicy } from './policy.ts';
import type { TlsPolicy } from './policy.ts';
import { buildSniIndex, checkServerNamePattern, lookupServerName } from './sni-index.ts';
import type { SniIndex } from './sni-index.ts';

export interface ClientAuth {
  /** PEM bundle of the CAs whose client certificates are accepted for these names. */
  caFile: string;
  /** true: the handshake's connection is closed without a verified client certificate. */
  required: boolean;
}

export interface CertificateEntry {
  certFile: string;
  keyFile: string;
  /** Names this pair serves (`*.example.com` allowed); default: the certificate's DNS names. */
  serverNames?: string[];
  clientAuth?: ClientAuth;
}

export interface CertificateStoreOptions {
  policy?: TlsPolicy;
  /** false: no watching (reload() still works, e.g. on SIGHUP). */
  watch?: false | WatchOptions;
  onReload?: (event: ReloadEvent) => void;
  onError?: (error: Error) => void;
}

export interface ReloadEvent {
  /** Certificate files whose pair (or client CA) was swapped in. */
  certFiles: string[];
}

export type ClientCertificateStatus =
  | { verified: true; certificate: PeerCertificate }
  | { verified: false; reason: 'not_configured' | 'absent' | 'unverified'; detail?: string };

interface Slot {
  readonly entry: CertificateEntry;
  readonly pair: CertificatePair;
  readonly clientCaPem: string | undefined;
  readonly names: readonly string[];
  readonly context: SecureContext;
}

type Listener<E> = (event: E) => void;

export class CertificateStore {
  /** Serves the development certificates of `<dataDir>/tls` (created on first use). */
  static async fromDevCertificates(
    dataDir: string,
    options: CertificateStoreOptions & { names?: string[] } = {},
  ): Promise<CertificateStore> {
    const names = options.names ?? [];
    const dev = await ensureDevCertificates(dataDir, names);
    const store = new CertificateStore([{ certFile: dev.certPath, keyFile: dev.keyPath }], options, true);
    // Renew the 90-day leaf while running; the file watcher then swaps it in.
    const renew = setInterval(() => {
      ensureDevCertificates(dataDir, names).then(
        () => store.reload(),
        (err: unknown) => store.#fail(err instanceof Error ? err : new Error(String(err))),
      );
    }, 12 * 3_600_000);
    renew.unref();
    store.#cleanups.push(() => clearInterval(renew));
    return store;
  }

  /** True when serving the development CA's leaf: listeners must then bind loopback (S4). */
  readonly development: boolean;
  readonly #policy: TlsPolicy;
  /** With client auth, no session tickets: see #contextOptions. */
  readonly #noTickets: boolean;
  #slots: readonly Slot[];
  #index: SniIndex<Slot>;
  readonly #reloadListeners = new Set<Listener<ReloadEvent>>();
  readonly #errorListeners = new Set<Listener<Error>>();
  readonly #cleanups: Array<() => void> = [];
  #closed = false;

  /**
   * Loads every entry now; the first is the default. Throws a TlsFileError naming the file.
   * `development` is for fromDevCertificates (it marks the store for the loopback check).
   */
  constructor(entries: readonly CertificateEntry[], options: CertificateStoreOptions = {}, development = false) {
    if (entries.length === 0) throw new Error('a TLS listener needs at least one certificate');
    this.development = development;
    this.#policy = options.policy ?? tlsPolicy();
    this.#noTickets = entries.some((e) => e.clientAuth !== undefined);
    this.#slots = entries.map((entry) => this.#load(entry, undefined));
    this.#index = indexOf(this.#slots);
    if (options.onReload) this.#reloadListeners.add(options.onReload);
    if (options.onError) this.#errorListeners.add(options.onError);
    if (options.watch !== false) {
      const files = entries.flatMap((e) => [e.certFile, e.keyFile, ...(e.clientAuth ? [e.clientAuth.caFile] : [])]);
      const watcher: FileWatcher = watchFiles(files, () => this.reload(), options.watch ?? {});
      this.#cleanups.push(() => watcher.close());
    }
  }

  /** The policy every context of this store is built with. */
  get policy(): TlsPolicy {
    return this.#policy;
  }

  /** Node asks for a certificate when any name wants client certificates (it decides per server). */
  get requestCert(): boolean {
    return this.#slots.some((s) => s.entry.clientAuth !== undefined);
  }

  /** The handshake itself refuses unverified clients only when every name requires them. */
  get rejectUnauthorized(): boolean {
    return this.#slots.every((s) => s.entry.clientAuth?.required === true);
  }

  get defaultContext(): SecureContext {
    return this.#default().context;
  }

  /** The context for an SNI name; the default for an unknown or absent name. */
  contextFor(serverName: string | undefined | null | false): SecureContext {
    return this.#slotFor(serverName).context;
  }

  /** The PEM certificate served for a name (for diagnostics and `rampart audit`). */
  certificateFor(serverName: string | undefined): string {
    return this.#slotFor(serverName).pair.certPem;
  }

  /** For `SNICallback` of tls/http2 servers. */
  readonly SNICallback = (serverName: string, cb: (err: Error | null, ctx?: SecureContext) => void): void => {
    cb(null, this.contextFor(serverName));
  };

  /** Key, certificate and client CA of the default entry, for `server.setSecureContext()`. */
  defaultContextOptions(): SecureContextOptions {
    return this.#contextOptions(this.#default());
  }

  /** The client-certificate settings of the name a socket's handshake used. */
  clientAuthFor(serverName: string | undefined | null | false): ClientAuth | undefined {
    return this.#slotFor(serverName).entry.clientAuth;
  }

  /**
   * Whether the peer of `socket` presented a certificate verified against the client CA of the
   * name it connected to. Routes that require mTLS check this, not `socket.authorized` alone: a
   * name without `clientAuth` verifies against Node's public roots, which proves nothing here.
   */
  clientCertificateStatus(socket: TLSSocket): ClientCertificateStatus {
    if (this.clientAuthFor(serverNameOf(socket)) === undefined) return { verified: false, reason: 'not_configured' };
    const certificate = socket.getPeerCertificate();
    if (certificate === null || Object.keys(certificate).length === 0) return { verified: false, reason: 'absent' };
    if (!socket.authorized) {
      return { verified: false, reason: 'unverified', detail: String(socket.authorizationError ?? 'not verified') };
    }
    return { verified: true, certificate };
  }

  /** Re-reads every file now; swaps in what loads, keeps the rest. Returns true if anything changed. */
  reload(): boolean {
    if (this.#closed) return false;
    const changed: string[] = [];
    const errors: Error[] = [];
    const next = this.#slots.map((slot) => {
      try {
        const fresh = this.#load(slot.entry, slot);
        if (fresh !== slot) changed.push(slot.entry.certFile);
        return fresh;
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
        return slot;
      }
    });
    if (changed.length > 0) {
      try {
        this.#index = indexOf(next);
        this.#slots = next;
      } catch (err) {
        errors.push(err instanceof Error ? err : new Error(String(err)));
        changed.length = 0;
      }
    }
    for (const err of errors) this.#fail(new Error(`TLS reload refused, the previous certificate keeps serving: ${err.message}`, { cause: err }));
    if (changed.length > 0) for (const fn of this.#reloadListeners) fn({ certFiles: changed });
    return changed.length > 0;
  }

  on(event: 'reload', fn: Listener<ReloadEvent>): () => void;
  on(event: 'error', fn: Listener<Error>): () => void;
  on(event: 'reload' | 'error', fn: Listener<ReloadEvent> | Listener<Error>): () => void {
    const set = (event === 'reload' ? this.#reloadListeners : this.#errorListeners) as Set<typeof fn>;
    set.add(fn);
    return () => set.delete(fn);
  }

  /** Stops watching. The contexts stay usable by connections in flight. */
  close(): void {
    this.#closed = true;
    for (const fn of this.#cleanups.splice(0)) fn();
  }

  /** Reports an error to the listeners; with none, as a process warning (never a throw). */
  #fail(error: Error): void {
    if (this.#errorListeners.size === 0) {
      process.emitWarning(error.message, { code: 'RAMPART_TLS_RELOAD' });
      return;
    }
    for (const fn of this.#errorListeners) fn(error);
  }

  /**
   * A TLS 1.2 session resumed from a ticket does not tell Node the server name (OpenSSL keeps none
   * in the session and the SNI callback is skipped), so the name's client-auth settings could not
   * be applied to it. Listeners with client auth therefore issue no tickets: every connection is a
   * full handshake whose SNI and client certificate are known.
   */
  #contextOptions(slot: Pick<Slot, 'pair' | 'clientCaPem'>): SecureContextOptions {
    const base = policyContextOptions(this.#policy);
    return {
      ...base,
      secureOptions: (base.secureOptions ?? 0) | (this.#noTickets ? constants.SSL_OP_NO_TICKET : 0),
      key: slot.pair.keyPem,
      cert: slot.pair.certPem,
      ...(slot.clientCaPem === undefined ? {} : { ca: slot.clientCaPem }),
    };
  }

  #default(): Slot {
    const slot = this.#slots[0];
    if (slot === undefined) throw new Error('unreachable: a store has at least one certificate');
    return slot;
  }

  #slotFor(serverName: string | undefined | null | false): Slot {
    if (typeof serverName !== 'string' || serverName === '') return this.#default();
    return lookupServerName(this.#index, serverName) ?? this.#default();
  }

  /** Loads an entry; returns `previous` itself when no file changed. */
  #load(entry: CertificateEntry, previous: Slot | undefined): Slot {
    const explicit = entry.serverNames?.map(checkServerNamePattern);
    const pair = loadCertificatePair(entry.certFile, entry.keyFile, explicit ? { names: explicit } : {});
    const clientCaPem = entry.clientAuth ? loadCaBundle(entry.clientAuth.caFile) : undefined;
    if (previous && previous.pair.digest === pair.digest && previous.clientCaPem === clientCaPem) return previous;
    const names = explicit ?? dnsNames(pair.certificate);
    const partial = { entry, pair, clientCaPem, names };
    let context: SecureContext;
    try {
      context = createSecureContext(this.#contextOptions(partial));
    } catch (err) {
      throw new Error(`${entry.certFile}: OpenSSL refused the certificate (${err instanceof Error ? err.message : String(err)})`, { cause: err });
    }
    return { ...partial, context };
  }
}

function indexOf(slots: readonly Slot[]): SniIndex<Slot> {
  return buildSniIndex(slots.map((s) => ({ names: s.names, value: s, explicit: s.entry.serverNames !== undefined })));
}

function serverNameOf(socket: TLSSocket): string | undefined {
  const name: unknown = (socket as { servername?: unknown }).servername;
  return typeof name === 'string' ? name : undefined;
}
