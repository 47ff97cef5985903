/**
 * The gateway: owns the listeners, the serving config generation and its atomic replacement
 * (hot reload), and graceful shutdown. Requests take the generation current when they arrive
 * and keep it to the end, so a reload never changes a request in flight.
 */
import type http from 'node:http';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { loadConfig, ConfigError, formatProblem, type ConfigProblem, type LoadedConfig } from '../config/load.ts';
import { resolveSecret } from '../config/secrets.ts';
import { GatewayError } from '../errors/problem.ts';
import { createLogger } from '../observe/logger.ts';
import { onSecurityEvent } from '../observe/events.ts';
import { loadMasterKey } from '../secrets/master-key.ts';
import { createKeyring, type Keyring } from '../secrets/keyring.ts';
import { openStore, startStoreMaintenance } from '../store/open.ts';
import type { Store } from '../store/types.ts';
import type { AuthnServices } from './authn-port.ts';
import { createIdentitySigner, type IdentitySigner } from '../identity/signer.ts';
import { identityJwksMount } from '../identity/jwks-mount.ts';
import { STAGES } from '../stages/index.ts';
import { compileGeneration, type Generation, type CompiledRoute, type CompiledListener } from './compile.ts';
import { Keeper } from './keeper.ts';
import { BuiltinRegistry, compileBuiltinStages, type BuiltinMount } from './builtin.ts';
import { createAuthServer, type AuthServer } from '../auth-server/index.ts';
import { CounterLoginLimiter } from '../auth-server/login-limiter.ts';
import { rateLimitStore } from '../ratelimit/store-factory.ts';
import type { CompileEnv } from './compile-env.ts';
import { createApiKeyService, type ApiKeyService } from '../accounts/api-keys.ts';
import { normaliseIp } from './net/cidr.ts';
import { openListener, type OpenListener } from './listeners.ts';
import { egressContext, errorResponse, logExchange, match, prepare, runRoute, runUpgradePhase, trackExchange, writeFor } from './runner.ts';
import { problemResponse, type OutboundResponse } from './respond.ts';
import type { InboundRequest, Exchange } from './exchange.ts';
import type { GatewayResponse, Stage, StageModule } from './stage.ts';
import { writeRawResponse } from './raw-response.ts';
import { ACCESS_LOG_REDACT, accessLineWriter, type AccessLineWriter } from '../observe/access-line.ts';


export interface GatewayOptions {
  readonly configFile: string;
  readonly logger?: Logger;
  /** Reload when the config file changes (default true). SIGHUP is wired by the CLI. */
  readonly watch?: boolean;
  readonly stages?: readonly StageModule[];
  /** Overrides dataDir (RAMPART_DATA_DIR). */
  readonly dataDir?: string;
  /** Credential verifiers for the authn stage (the built-in issuer, API keys); tests pass doubles. */
  readonly authn?: AuthnServices;
  /** The clock policy conditions read (default Date.now); tests pass a controlled one. */
  readonly clock?: () => number;
}

export interface ReloadResult {
  readonly ok: boolean;
  readonly generation: number;
  readonly problems: readonly ConfigProblem[];
}

export class Gateway {
  readonly logger: Logger;
  readonly #accessLine: AccessLineWriter;
  readonly #stages: readonly StageModule[];
  readonly #configFile: string;
  readonly #keeper = new Keeper();
  readonly #listeners = new Map<string, OpenListener>();
  readonly #inflight = new Map<Generation, number>();
  #gen!: Generation;
  #identity!: IdentitySigner;
  #dataDir = '';
  #dev = false;
  readonly #clock: (() => number) | undefined;
  #store: Store | undefined;
  #keyring: Keyring | undefined;
  #authn: AuthnServices | undefined;
  #stopMaintenance: () => void = () => undefined;
  #watcher: FSWatcher | undefined;
  /** Built-in routes (the authorization server) and the guard stages compiled for each generation. */
  readonly #builtins = new BuiltinRegistry();
  readonly #builtinStages = new WeakMap<Generation, Stage[]>();
  #authServer: AuthServer | undefined;
  /** The environment built-ins were last compiled with (the login limiter reads its rate-limit store). */
  #builtinEnv: CompileEnv | undefined;
  /** API keys (X-API-Key) for the authn stage: verified against the store with the keyring's pepper. */
  #apiKeys: ApiKeyService | undefined;
  #reloading: Promise<ReloadResult> | undefined;
  #again: Promise<ReloadResult> | undefined;
  #closing: Promise<void> | undefined;
  #offEvents: () => void = () => undefined;
  readonly #answered = new WeakSet<Duplex>();

  private constructor(options: GatewayOptions, logger: Logger) {
    this.logger = logger;
    // The access line is built by the runner from known fields (no headers, no query string, no
    // body), so it needs no wildcard redaction — the costliest part of a log call. The exact keys
    // below still guard what a stage's onLog might add.
    this.#accessLine = accessLineWriter(logger.child({ log: 'access' }, { redact: { paths: ACCESS_LOG_REDACT, censor: '[REDACTED]' } }));
    this.#stages = options.stages ?? STAGES;
    this.#configFile = path.resolve(options.configFile);
    this.#authn = options.authn;
    this.#clock = options.clock;
  }

  static async start(options: GatewayOptions): Promise<Gateway> {
    const stages = options.stages ?? STAGES;
    const loaded = await loadConfig(options.configFile, stages);
    const logger = options.logger ?? createLogger({ level: loaded.config.logging.level, redact: loaded.config.logging.redact });
    const gw = new Gateway(options, logger);
    try {
      await gw.#init(loaded, options);
    } catch (err) {
      await gw.#teardown();
      throw err;
    }
    return gw;
  }

  async #init(loaded: LoadedConfig, options: GatewayOptions): Promise<void> {
    const root = loaded.config;
    for (const w of loaded.warnings) this.logger.warn({ config: formatProblem(w) }, 'config warning');
    // DESIGN.md: dataDir is relative to the working directory; RAMPART_DATA_DIR overrides it.
    this.#dataDir = path.resolve(options.dataDir ?? process.env.RAMPART_DATA_DIR ?? root.dataDir);
    this.#dev = root.listeners.some((l) => l.tls?.dev === true);
    if (this.#dev) {
      this.logger.warn('development mode (tls.dev): a local CA and a master key are generated under the data directory; never use this in production');
    }
    const masterValue = root.masterKey ? await resolveSecret(root.masterKey, loaded.baseDir) : undefined;
    const master = await loadMasterKey({ dataDir: this.#dataDir, dev: this.#dev, value: masterValue });
    this.#keyring = createKeyring(master);
    this.#identity = await createIdentitySigner({
      dataDir: this.#dataDir,
      keyring: this.#keyring,
      issuer: root.identity.issuer,
      lifetimeSeconds: root.identity.lifetimeSeconds,
    });
    // The store (users, clients, API keys, deny-list, OIDC artefacts): opened and migrated before the
    // first compile, so that stages can use it; a store that cannot be opened stops the start.
    this.#store = await openStore(root.store, { dataDir: this.#dataDir, baseDir: loaded.baseDir, logger: this.logger });
    this.#stopMaintenance = startStoreMaintenance(this.#store, { logger: this.logger });
    this.#offEvents = onSecurityEvent((e) => this.logger.warn({ log: 'security', event: e }, e['event.action']));
    if (root.authServer) {
      // Login counters live in the rate-limit store (Redis in cluster mode): every instance counts alike (S6).
      const limiter = new CounterLoginLimiter(root.authServer.login, () => {
        if (!this.#builtinEnv) throw new Error('login limiter used before the first compile');
        return rateLimitStore(this.#builtinEnv);
      });
      this.#authServer = await createAuthServer({ config: root.authServer, store: this.#store, keyring: this.#keyring, logger: this.logger, dev: this.#dev, limiter });
      this.#builtins.add(this.#authServer.mount);
      this.logger.info({ issuer: root.authServer.issuer }, 'authorization server mounted');
    }
    this.#builtins.add(identityJwksMount(this.#identity));
    this.#apiKeys = createApiKeyService({ store: this.#store, keyring: this.#keyring });
    this.#gen = await this.#compile(loaded, 1);
    this.#keeper.commit();
    for (const l of root.listeners) {
      const open = await openListener(l, {
        baseDir: loaded.baseDir,
        dataDir: this.#dataDir,
        logger: this.logger,
        handlers: {
          request: (name, req, res) => {
            this.#onRequest(name, req, res).catch((err: unknown) => this.#lastResort(err, res));
          },
          upgrade: (name, req, socket, head) => {
            this.#onUpgrade(name, req, socket, head).catch((err: unknown) => this.#lastResort(err, socket));
          },
          clientError: (name, err, socket) => this.#onClientError(name, err, socket),
        },
      });
      this.#listeners.set(l.name, open);
      if (l.protocol === 'http' && l.insecure) this.logger.warn({ listener: l.name }, 'plaintext listener serves routes (insecure: true)');
    }
    if (options.watch !== false) this.#watch();
  }

  async #compile(loaded: LoadedConfig, id: number): Promise<Generation> {
    const gen = await this.#compileRoutes(loaded, id);
    const root = loaded.config;
    const env: CompileEnv = {
      root, route: undefined, upstream: undefined, logger: this.logger, keeper: this.#keeper, identity: this.#identity,
      generation: id, dataDir: this.#dataDir, dev: this.#dev, ...(this.#store ? { store: this.#store } : {}), ...(this.#keyring ? { keyring: this.#keyring } : {}), authn: this.#authnServices(),
      clock: this.#clock ?? Date.now,
    };
    this.#builtinStages.set(gen, await compileBuiltinStages(this.#stages, root.defaults, env));
    // Opened during the compile, so the keeper keeps the login counters across reloads.
    if (root.authServer) await rateLimitStore(env);
    this.#builtinEnv = env;
    return gen;
  }

  async #compileRoutes(loaded: LoadedConfig, id: number): Promise<Generation> {
    return compileGeneration(loaded, this.#stages, { logger: this.logger, keeper: this.#keeper, identity: this.#identity, dataDir: this.#dataDir, dev: this.#dev, ...(this.#store ? { store: this.#store } : {}), ...(this.#keyring ? { keyring: this.#keyring } : {}), authn: this.#authnServices(), ...(this.#clock ? { clock: this.#clock } : {}) }, id);
  }

  /** What the authn stage verifies credentials with: the built-in server and API keys (tests may replace either). */
  #authnServices(): AuthnServices {
    const builtin = this.#authn?.builtin ?? this.#authServer;
    const apiKeys = this.#authn?.apiKeys ?? this.#apiKeys;
    return { ...(builtin ? { builtin } : {}), ...(apiKeys ? { apiKeys } : {}), ...(this.#authn?.accounts ? { accounts: this.#authn.accounts } : {}) };
  }

  get generation(): number {
    return this.#gen.id;
  }

  /** The opened store (users, clients, API keys, deny-list, OIDC artefacts). */
  get store(): Store {
    if (!this.#store) throw new Error('the gateway has no store yet');
    return this.#store;
  }

  /** The built-in authorization server, when `authServer` is configured (the authn stage trusts it). */
  get authServer(): AuthServer | undefined {
    return this.#authServer;
  }

  get dataDir(): string {
    return this.#dataDir;
  }

  get identity(): IdentitySigner {
    return this.#identity;
  }

  listener(name: string): OpenListener {
    const l = this.#listeners.get(name);
    if (!l) throw new Error(`no listener named ${name}`);
    return l;
  }

  listeners(): OpenListener[] {
    return [...this.#listeners.values()];
  }

  /** Loads the config file again and swaps it in atomically; an invalid one is refused. */
  reload(): Promise<ReloadResult> {
    if (this.#reloading) {
      // A change arrived while a reload was reading the file: run once more after it.
      this.#again ??= this.#reloading.then(() => {
        this.#again = undefined;
        return this.reload();
      });
      return this.#again;
    }
    this.#reloading = this.#reload().finally(() => {
      this.#reloading = undefined;
    });
    return this.#reloading;
  }

  async #reload(): Promise<ReloadResult> {
    const old = this.#gen;
    let loaded: LoadedConfig;
    try {
      loaded = await loadConfig(this.#configFile, this.#stages);
      const changed = listenerChanges(old.loaded, loaded);
      if (changed) throw new ConfigError([{ file: loaded.file, line: 1, col: 1, path: 'listeners', message: `${changed}: restart the gateway to change listeners`, severity: 'error' }]);
      if (JSON.stringify(old.loaded.config.authServer) !== JSON.stringify(loaded.config.authServer)) {
        throw new ConfigError([{ file: loaded.file, line: 1, col: 1, path: 'authServer', message: 'authServer changed: restart the gateway to change the authorization server', severity: 'error' }]);
      }
      if (JSON.stringify(old.loaded.config.store) !== JSON.stringify(loaded.config.store)) {
        throw new ConfigError([{ file: loaded.file, line: 1, col: 1, path: 'store', message: 'store changed: restart the gateway to change the store', severity: 'error' }]);
      }
    } catch (err) {
      return this.#refused(err, old);
    }
    let next: Generation;
    try {
      next = await this.#compile(loaded, old.id + 1);
    } catch (err) {
      await this.#keeper.abort();
      return this.#refused(err, old);
    }
    const dispose = this.#keeper.commit();
    this.#gen = next;
    this.logger.info({ generation: next.id, routes: loaded.config.routes.length }, 'config reloaded');
    for (const w of loaded.warnings) this.logger.warn({ config: formatProblem(w) }, 'config warning');
    void this.#retire(old, dispose);
    return { ok: true, generation: next.id, problems: loaded.warnings };
  }

  #refused(err: unknown, old: Generation): ReloadResult {
    const problems = err instanceof ConfigError ? err.problems : [{ file: this.#configFile, line: 0, col: 0, path: '', message: err instanceof Error ? err.message : String(err), severity: 'error' as const }];
    for (const p of problems) this.logger.error({ config: formatProblem(p) }, 'config reload refused; the previous config keeps serving');
    return { ok: false, generation: old.id, problems };
  }

  /** Disposes what a reload dropped once the old generation has no request in flight. */
  async #retire(old: Generation, dispose: () => Promise<void>): Promise<void> {
    const deadline = Date.now() + 300_000;
    while ((this.#inflight.get(old) ?? 0) > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    this.#inflight.delete(old);
    for (const s of old.stages) await s.close?.();
    await dispose();
  }

  #watch(): void {
    let timer: NodeJS.Timeout | undefined;
    try {
      // Watch the directory: editors replace files, which ends a watch on the file itself.
      this.#watcher = watch(path.dirname(this.#configFile), (_event, file) => {
        if (file !== null && file !== path.basename(this.#configFile)) return;
        clearTimeout(timer);
        timer = setTimeout(() => void this.reload(), 200);
      });
      this.#watcher.on('error', () => undefined);
      this.#watcher.unref();
    } catch (err) {
      this.logger.warn({ err }, 'cannot watch the config file; reload with SIGHUP');
    }
  }

  #enter(): Generation {
    const gen = this.#gen;
    this.#inflight.set(gen, (this.#inflight.get(gen) ?? 0) + 1);
    return gen;
  }

  #leave(gen: Generation): void {
    this.#inflight.set(gen, (this.#inflight.get(gen) ?? 1) - 1);
  }

  inflight(): number {
    let n = 0;
    for (const v of this.#inflight.values()) n += v;
    return n;
  }

  async #onRequest(name: string, req: InboundRequest, res: OutboundResponse): Promise<void> {
    const gen = this.#enter();
    const listener = gen.listeners.get(name);
    const open = this.#listeners.get(name);
    if (!listener || !open) {
      this.#leave(gen);
      res.destroy();
      return;
    }
    const { ex, error } = prepare(gen, listener, open.info, req, open.store);
    let route: CompiledRoute | undefined;
    trackExchange(res, ex, this.#accessLine, () => route);
    // RFC 9110 §10.1.1: 100 Continue only once a stage or the proxy actually reads the body, so that
    // a request refused by routing or limits never has its body sent.
    if (String(req.headers.expect ?? '').toLowerCase() === '100-continue') {
      ex.onBodyRead = () => {
        if (!res.headersSent) (res as { writeContinue(): void }).writeContinue();
      };
    }
    let response: GatewayResponse;
    let own = true;
    try {
      if (error) response = errorResponse(ex, error);
      else {
        const mount = this.#builtins.find(ex.host, ex.path);
        if (mount) {
          const denied = await this.#runMount(gen, listener, ex, req, res, mount);
          if (denied === undefined) {
            this.#leave(gen);
            return;
          }
          response = denied;
        } else {
          const m = match(listener, ex);
          if (m instanceof GatewayError) response = errorResponse(ex, m);
          else {
            route = m;
            ({ response, own } = await runRoute(ex, m, this.logger));
          }
        }
      }
    } catch (err) {
      if (!(err instanceof GatewayError)) this.logger.error({ requestId: ex.requestId, route: route?.info.id, err }, 'unexpected error in the request phase');
      response = errorResponse(ex, err);
      own = true;
    }
    // Answered before the whole body arrived (a 413, a 404 to a POST): close the HTTP/1.1
    // connection after this response instead of reading the rest of the body for nothing.
    if (req.httpVersionMajor === 1 && !req.complete && !res.headersSent) (res as { setHeader(n: string, v: string): void }).setHeader('connection', 'close');
    try {
      await writeFor(res, ex, response, own, egressContext(ex, listener, route, req.httpVersionMajor === 2));
    } finally {
      this.#leave(gen);
    }
  }

  /** A bug escaped the request path: log it, close that exchange, keep serving everyone else. */
  #lastResort(err: unknown, target: { destroy(): unknown }): void {
    this.logger.error({ err }, 'unexpected error escaped a request; its connection is closed');
    try {
      target.destroy();
    } catch {
      /* already gone */
    }
  }

  /**
   * A built-in mount (DESIGN.md: request-id → hygiene → ip-filter → throttle → handler). Returns the
   * denial to answer, or undefined once the mount has written its response.
   */
  async #runMount(gen: Generation, listener: CompiledListener, ex: Exchange, req: InboundRequest, res: OutboundResponse, mount: BuiltinMount): Promise<GatewayResponse | undefined> {
    for (const stage of this.#builtinStages.get(gen) ?? []) {
      const d = await stage.onRequest?.(ex);
      if (!d || d.kind === 'next') continue;
      if (d.kind === 'reply') return d.response;
      if (stage.mode !== 'shadow') return errorResponse(ex, d.error);
    }
    const length = ex.headers['content-length'];
    if (length !== undefined && Number(length) > ex.maxBodyBytes) {
      return errorResponse(ex, new GatewayError('RAMPART_HYGIENE_BODY_TOO_LARGE', { detail: `The body exceeds ${ex.maxBodyBytes} bytes.`, reason: 'content-length over limit' }));
    }
    const egress: Record<string, string> = {};
    listener.egress.apply(egress, listener.config.protocol === 'https', true);
    egress[listener.ids.header] = ex.requestId;
    ex.decision = 'reply';
    // The access line is written on close: the status must be known by then.
    res.once('finish', () => {
      ex.status = res.statusCode;
      // Mounts write the response themselves: the bytes of the body are what they declared.
      const length = Number(res.getHeader('content-length'));
      if (Number.isSafeInteger(length) && length > 0 && ex.method !== 'HEAD') ex.bytesOut = length;
    });
    try {
      await mount.handle({ ctx: ex, req, res, egress });
    } catch (err) {
      this.logger.error({ requestId: ex.requestId, mount: mount.name, err }, 'unexpected error in a built-in route');
      if (!res.headersSent) return errorResponse(ex, err);
      res.destroy();
    }
    return undefined;
  }

  async #onUpgrade(name: string, req: http.IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    const gen = this.#enter();
    const listener = gen.listeners.get(name);
    const open = this.#listeners.get(name);
    socket.on('error', () => socket.destroy());
    if (!listener || !open) {
      this.#leave(gen);
      socket.destroy();
      return;
    }
    const { ex, error } = prepare(gen, listener, open.info, req, open.store);
    let route: CompiledRoute | undefined;
    const fail = (response: GatewayResponse) => {
      writeRawResponse(socket, response, egressContext(ex, listener, route, false));
      logExchange(this.#accessLine, ex, route, response.status, false);
    };
    try {
      if (error) return fail(errorResponse(ex, error));
      const m = match(listener, ex);
      if (m instanceof GatewayError) return fail(errorResponse(ex, m));
      route = m;
      const protocol = String(req.headers.upgrade ?? '').toLowerCase();
      if (!m.websocket || !m.upgrade || protocol !== 'websocket') {
        return fail(errorResponse(ex, new GatewayError('RAMPART_HYGIENE_UPGRADE_REFUSED', { reason: `upgrade to ${protocol.slice(0, 32)}` })));
      }
      ex.annotations.set('core.upgrade', protocol);
      const refused = await runUpgradePhase(ex, m, this.logger);
      if (refused) return fail(refused);
      await m.upgrade(ex, socket, head);
      ex.decision = 'allow';
      logExchange(this.#accessLine, ex, route, 101, false);
    } catch (err) {
      if (!(err instanceof GatewayError)) this.logger.error({ requestId: ex.requestId, err }, 'unexpected error during upgrade');
      if (socket.writable) fail(errorResponse(ex, err));
      else socket.destroy();
    } finally {
      this.#leave(gen);
    }
  }

  /** Requests Node's parser refused: answered as problem+json, then the connection closes. */
  #onClientError(name: string, err: NodeJS.ErrnoException, socket: Duplex): void {
    // The parser reports again for every further chunk of a refused request: answer once.
    if (this.#answered.has(socket)) return;
    this.#answered.add(socket);
    const code = err.code ?? '';
    if (code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const error =
      code === 'HPE_HEADER_OVERFLOW'
        ? new GatewayError('RAMPART_HYGIENE_HEADERS_TOO_LARGE')
        : code === 'ERR_HTTP_REQUEST_TIMEOUT'
          ? new GatewayError('RAMPART_HYGIENE_REQUEST_TIMEOUT')
          : new GatewayError('RAMPART_HYGIENE_BAD_REQUEST', { reason: code });
    const listener = this.#gen.listeners.get(name);
    const requestId = crypto.randomUUID();
    const clientIp = normaliseIp((socket as { remoteAddress?: string }).remoteAddress ?? 'unknown');
    this.logger.info({ log: 'access', listener: name, clientIp, status: error.status, decision: 'deny', reason: error.code, parserError: code, requestId }, 'request refused by the HTTP parser');
    if (!listener) return void socket.destroy();
    writeRawResponse(socket, problemResponse(error, requestId), {
      requestId, requestIdHeader: listener.ids.header, https: listener.config.protocol === 'https', egress: listener.egress, http2: false, method: 'GET',
    });
  }

  /** Graceful shutdown: stop accepting, let in-flight requests finish within graceMs, then close. */
  close(graceMs?: number): Promise<void> {
    this.#closing ??= this.#close(graceMs ?? this.#gen.loaded.config.shutdown.graceMs);
    return this.#closing;
  }

  async #close(graceMs: number): Promise<void> {
    this.#watcher?.close();
    for (const l of this.#listeners.values()) l.stopAccepting();
    const deadline = Date.now() + graceMs;
    while (this.inflight() > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    const left = this.inflight();
    if (left > 0) this.logger.warn({ inflight: left }, 'shutdown deadline reached; closing requests still in flight');
    await this.#teardown();
    this.logger.info({ inflightLeft: left }, 'stopped');
  }

  async #teardown(): Promise<void> {
    for (const l of this.#listeners.values()) l.destroyAll();
    this.#offEvents();
    if (this.#gen) for (const s of this.#gen.stages) await s.close?.();
    await this.#builtins.closeAll();
    await this.#authServer?.close();
    await this.#keeper.closeAll();
    await this.#apiKeys?.close().catch((err: unknown) => this.logger.warn({ err }, 'API keys: could not record the last uses'));
    // Last: stages may write to the store when they close (e.g. API-key last use).
    this.#stopMaintenance();
    await this.#store?.close().catch((err: unknown) => this.logger.warn({ err }, 'store: close failed'));
    this.logger.flush?.();
  }
}

function listenerChanges(a: LoadedConfig, b: LoadedConfig): string | undefined {
  const key = (c: LoadedConfig) => JSON.stringify(c.config.listeners.map((l) => [l.name, l.host, l.port, l.protocol, l.publicOrigin, l.redirectTo, l.insecure, l.admin, l.tls, l.http2, l.limits]));
  return key(a) === key(b) ? undefined : 'listeners changed';
}
