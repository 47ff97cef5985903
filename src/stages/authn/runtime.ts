/**
 * What every route's authn stage shares: the trusted issuers and their key sets, the verified-token
 * cache, the deny-list mirror, the account directory and the API-key gate. Built once per config
 * generation; the long-lived parts are kept across hot reloads by the keeper (DESIGN "Hot reload":
 * token caches and key sets survive when their settings do).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import type { CompileEnv } from '../../core/compile-env.ts';
import type { RootConfig } from '../../config/types.ts';
import { BUILTIN_GRANT_CLAIM, type AuthnServices } from '../../core/authn-port.ts';
import { BUILTIN_ID, type AuthenticationConfig, type ExternalIssuerConfig } from './config.ts';
import { SafeFetcher, S8_POLICY } from './fetch.ts';
import { RemoteKeySource } from './remote-keys.ts';
import { BuiltinKeySource } from './builtin-keys.ts';
import type { KeySource } from './key-set.ts';
import { TokenCache } from './token-cache.ts';
import { DenyMirror } from './deny-list.ts';
import { AccountDirectory } from './accounts.ts';
import { ApiKeyGate } from './api-keys.ts';
import { bindingIndex } from './roles.ts';
import type { IssuerVerifier } from './issuer.ts';

export interface AuthnRuntime {
  readonly realm: string;
  /** Some credential source is configured: routes then require authentication unless they opt out. */
  readonly configured: boolean;
  readonly byIssuer: ReadonlyMap<string, IssuerVerifier>;
  readonly byId: ReadonlyMap<string, IssuerVerifier>;
  readonly cache: TokenCache;
  /** Undefined when the gateway has no store (only `rampart check`). */
  readonly deny: DenyMirror | undefined;
  readonly accounts: AccountDirectory | undefined;
  readonly apiKeysEnabled: boolean;
  /** Undefined while API keys are enabled: the verifier is missing, requests with a key fail closed. */
  readonly apiKeys: ApiKeyGate | undefined;
  readonly keyBindings: ReadonlyMap<string, readonly string[]>;
}

const runtimes = new WeakMap<RootConfig, Promise<AuthnRuntime>>();

/** The runtime of this config generation (built on the first route compiled). */
export function authnRuntime(env: CompileEnv): Promise<AuthnRuntime> {
  let r = runtimes.get(env.root);
  if (!r) {
    r = build(env);
    runtimes.set(env.root, r);
  }
  return r;
}

export function authenticationOf(root: RootConfig): AuthenticationConfig {
  return (root as unknown as { authentication: AuthenticationConfig }).authentication;
}

/** The built-in server is configured (`authServer`) or running (its port was given). */
function builtinIssuerUrl(root: RootConfig, services: AuthnServices | undefined): string | undefined {
  if (services?.builtin) return services.builtin.issuer;
  const server = (root as unknown as { authServer?: { issuer?: unknown } }).authServer;
  return typeof server?.issuer === 'string' ? server.issuer : undefined;
}

async function build(env: CompileEnv): Promise<AuthnRuntime> {
  const cfg = authenticationOf(env.root);
  const services = env.authn;
  const logger = env.logger;
  const accountsSource = services?.accounts ?? env.store;
  const byIssuer = new Map<string, IssuerVerifier>();
  const byId = new Map<string, IssuerVerifier>();
  const sources: KeySource[] = [];

  const builtinUrl = builtinIssuerUrl(env.root, services);
  if (builtinUrl !== undefined) {
    const b = cfg.builtin;
    const builtin = services?.builtin;
    const audiences = b.audiences ?? builtin?.audiences ?? [];
    if (audiences.length === 0) logger.warn('authn: the built-in issuer has no audience (authentication.builtin.audiences or authServer resources): its tokens are refused');
    const keys = builtin
      ? env.keeper.keep('authn-keys', BUILTIN_ID, `builtin|${identityOf(builtin)}|${builtin.issuer}`, () => new BuiltinKeySource(builtin, logger), (k) => k.close())
      : undefined;
    if (!builtin) logger.warn('authn: the built-in authorization server is configured but not running here: its tokens fail closed');
    if (keys) sources.push(keys);
    const v: IssuerVerifier = {
      id: BUILTIN_ID, builtin: true,
      rules: { issuer: builtinUrl, audiences: new Set(audiences), maxLifetimeSeconds: b.maxLifetimeSeconds, clockSkewSeconds: b.clockSkewSeconds, requireJti: true },
      algorithms: new Set(b.algorithms),
      // RFC 9068 §4: the built-in server's access tokens are always typed at+jwt.
      typ: 'at+jwt',
      keys,
      reading: { issuerId: BUILTIN_ID, scopeClaim: 'scope', roleClaim: undefined, grantClaim: BUILTIN_GRANT_CLAIM },
      roleMap: undefined,
      bindings: bindingIndex(b.bindings),
    };
    byIssuer.set(builtinUrl, v);
    byId.set(BUILTIN_ID, v);
  }

  for (const i of cfg.issuers) {
    const keys = env.keeper.keep('authn-keys', i.id, fetchFingerprint(i), () => remoteSource(i, env, logger), (k) => k.close());
    sources.push(keys);
    if (i.requireTyp === 'any') logger.warn({ issuer: i.id }, 'authn: requireTyp any — the JOSE typ of this issuer\'s tokens is not checked');
    if (i.allowPrivateNetwork) logger.warn({ issuer: i.id }, 'authn: allowPrivateNetwork — keys may be fetched from private and loopback addresses');
    const v: IssuerVerifier = {
      id: i.id, builtin: false,
      rules: { issuer: i.issuer, audiences: new Set(i.audiences), maxLifetimeSeconds: i.maxLifetimeSeconds, clockSkewSeconds: i.clockSkewSeconds, requireJti: false },
      algorithms: new Set(i.algorithms),
      typ: i.requireTyp,
      keys,
      reading: { issuerId: i.id, scopeClaim: i.scopeClaim, roleClaim: i.roles?.claim, grantClaim: undefined },
      roleMap: i.roles?.map,
      bindings: bindingIndex(i.bindings),
    };
    byIssuer.set(i.issuer, v);
    byId.set(i.id, v);
  }

  const cache = env.keeper.keep('authn-token-cache', 'tokens', JSON.stringify({ cfg, builtinUrl }), () => new TokenCache(cfg.tokenCache.maxEntries), (c) => c.clear());
  // Cleared on any key rotation (issue 3 §6). One subscription per (key source, cache) pair, kept
  // across reloads like the pair itself and dropped with it.
  for (const s of sources) {
    env.keeper.keep('authn-rotation', String(identityOf(s)), String(identityOf(cache)), () => s.onChange(() => cache.clear()), (off) => void off());
  }

  const configured = byId.size > 0 || cfg.apiKeys.enabled;
  // Nothing to verify: no poller, no account reads (the stage is inert, see index.ts).
  const denySource = configured ? accountsSource?.denyList : undefined;
  const deny = denySource
    ? env.keeper.keep('authn-deny-list', 'mirror', `${identityOf(denySource)}|${cfg.denyList.pollSeconds}|${cfg.denyList.maxStalenessSeconds}`,
      () => new DenyMirror(denySource, { ...cfg.denyList, logger }), (d) => d.close())
    : undefined;
  if (deny) await Promise.race([deny.ready, new Promise((r) => setTimeout(r, 2000).unref())]);

  const accounts = configured && accountsSource
    ? env.keeper.keep('authn-accounts', 'directory', `${identityOf(accountsSource.users)}|${cfg.accountCacheSeconds}`,
      () => new AccountDirectory(accountsSource, { ttlSeconds: cfg.accountCacheSeconds }))
    : undefined;

  const verifier = services?.apiKeys;
  const apiKeys = cfg.apiKeys.enabled && verifier
    ? env.keeper.keep('authn-api-keys', 'gate', `${identityOf(verifier)}|${cfg.apiKeys.cacheSeconds}`, () => new ApiKeyGate(verifier, { cacheSeconds: cfg.apiKeys.cacheSeconds }))
    : undefined;
  if (cfg.apiKeys.enabled && !verifier && env.store) logger.warn('authn: API keys are enabled but no API-key verifier is available: requests with X-API-Key fail closed');

  return {
    realm: cfg.realm,
    configured,
    byIssuer, byId, cache, deny, accounts,
    apiKeysEnabled: cfg.apiKeys.enabled,
    apiKeys,
    keyBindings: bindingIndex(cfg.apiKeys.bindings),
  };
}

function fetchFingerprint(i: ExternalIssuerConfig): string {
  return JSON.stringify([i.issuer, i.jwksUri, i.ca, i.allowPrivateNetwork, i.refreshSeconds, i.cooldownSeconds, i.maxStalenessSeconds]);
}

function remoteSource(i: ExternalIssuerConfig, env: CompileEnv, logger: Logger): RemoteKeySource {
  const baseDir = (env as { baseDir?: string }).baseDir ?? process.cwd();
  const ca = i.ca ? readFileSync(path.resolve(baseDir, i.ca), 'utf8') : undefined;
  const fetcher = new SafeFetcher({ ...S8_POLICY, allowPrivateNetwork: i.allowPrivateNetwork, ...(ca ? { ca } : {}) });
  return new RemoteKeySource({
    issuer: i.issuer, ...(i.jwksUri ? { jwksUri: i.jwksUri } : {}),
    refreshSeconds: i.refreshSeconds, cooldownSeconds: i.cooldownSeconds, maxStalenessSeconds: i.maxStalenessSeconds,
    fetcher, logger,
  });
}

const ids = new WeakMap<object, number>();
let nextId = 1;
/** A stable number per object, so that a fingerprint changes when a service object does. */
function identityOf(o: object): number {
  let n = ids.get(o);
  if (n === undefined) {
    n = nextId++;
    ids.set(o, n);
  }
  return n;
}
