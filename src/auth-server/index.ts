/**
 * The built-in authorization server (DESIGN.md practice 2): oidc-provider mounted under the
 * issuer's path, Rampart's login pages, its data in the store, its signing keys sealed with the
 * keyring. Implements the BuiltinIssuer port the authn stage trusts.
 */
import type { Logger } from 'pino';
import type Provider from 'oidc-provider';
import type { Keyring } from '../secrets/keyring.ts';
import type { Store } from '../store/types.ts';
import type { BuiltinMount } from '../core/builtin.ts';
import type { AuthServerConfig } from './config.ts';
import type { LoginAccounts } from './accounts.ts';
import { createAccountService } from '../accounts/accounts.ts';
import { MemoryLoginLimiter, type LoginLimiter } from './login-limiter.ts';
import { loadSigningKeys, publicJwks, type SigningKeySet } from './signing-keys.ts';
import { createProvider } from './provider.ts';
import { createCsrf } from './csrf.ts';
import { createInteractions } from './interactions.ts';
import { createAccountPassword } from './account-password.ts';
import { signOutEverywhere , denyGrant, DENY_SECONDS } from './sign-out.ts';
import { createAuthMount } from './mount.ts';

export interface AuthServerOptions {
  readonly config: AuthServerConfig;
  readonly store: Store;
  readonly keyring: Keyring;
  readonly logger: Logger;
  /** Development mode: the mount answers on any host (S1 relaxed, warned about at start-up). */
  readonly dev: boolean;
  /** Defaults to the account service of src/accounts (Argon2id, S6/S7) over the same store. */
  readonly accounts?: LoginAccounts;
  readonly limiter?: LoginLimiter;
}

/** A JSON Web Key Set (RFC 7517 §5) of public verification keys. */
export interface PublicJwks {
  readonly keys: readonly Readonly<Record<string, unknown>>[];
}

/**
 * What the authn stage trusts (structurally its `BuiltinIssuer` port, src/core/authn-port.ts):
 * issuer, audiences, the public JWKS and a signal on key rotation.
 */
export interface AuthServer {
  /** The `iss` of its tokens, e.g. https://localhost:8443/auth. */
  readonly issuer: string;
  /** The RFC 8707 resource indicators its access tokens are issued for (their `aud`). */
  readonly audiences: readonly string[];
  /** Current signing key and the retired ones kept until their tokens expired. */
  jwks(): PublicJwks;
  /** Calls `listener` after every key rotation; returns the function that unsubscribes. */
  onKeysChanged(listener: () => void): () => void;
  readonly mount: BuiltinMount;
  /** Re-reads the signing keys now (polling does it every keyPollSeconds). */
  refreshKeys(): Promise<boolean>;
  close(): Promise<void>;
}

/** How long a grant stays on the deny-list: past the longest access token it may have issued. */

export async function createAuthServer(o: AuthServerOptions): Promise<AuthServer> {
  const { config, store, keyring, logger } = o;
  const issuer = new URL(config.issuer);
  const mountPath = issuer.pathname.replace(/\/$/, '');
  const assets = `${mountPath}/assets`;
  const accounts: LoginAccounts = o.accounts ?? createAccountService({ store, keyring, issuer: config.issuer });
  const limiter = o.limiter ?? new MemoryLoginLimiter(config.login);
  const listeners = new Set<() => void>();
  const log = logger.child({ component: 'auth-server' });

  const onGrantRevoked = async (grantId: string, reason: string): Promise<void> => {
    try {
      await denyGrant(store, grantId, reason, DENY_SECONDS);
      log.info({ grantId, reason }, 'grant revoked');
    } catch (err) {
      log.error({ err, grantId }, 'could not deny-list a revoked grant');
    }
  };

  let keys: SigningKeySet = await loadSigningKeys(store.oidc, keyring, Math.floor(Date.now() / 1000));
  const build = (set: SigningKeySet): Provider => createProvider({ config, store, keyring, accounts, keys: set, assets, mountPath, onGrantRevoked, onServerError: (err) => log.error({ err }, 'authorization server error') });
  let provider = build(keys);
  const current = () => provider;

  const csrf = createCsrf(Buffer.from(keyring.mac('signing-keys', 'rampart/auth-server/csrf').mac, 'base64url'), issuer.origin, mountPath || '/');
  const interactions = createInteractions({ provider: current, store: store.oidc, keyring, accounts, limiter, csrf, mountPath, assets, totpIssuer: issuer.hostname });
  const account = createAccountPassword({
    accounts,
    limiter,
    csrf,
    path: `${mountPath}/account/password`,
    assets,
    signOut: async (userId, reason) => {
      const ended = await signOutEverywhere(store, { issuer: config.issuer, userId, reason, denySeconds: DENY_SECONDS, revokeGrant: onGrantRevoked });
      log.info({ userId, ...ended, reason }, 'user signed out everywhere');
      return ended;
    },
  });
  const mount = createAuthMount({ issuer, anyHost: o.dev, provider: current, interactions, account });

  const refreshKeys = async (): Promise<boolean> => {
    const next = await loadSigningKeys(store.oidc, keyring, Math.floor(Date.now() / 1000));
    if (next.version === keys.version) return false;
    provider = build(next);
    keys = next;
    log.info({ kids: next.keys.map((k) => k.kid) }, 'signing keys changed');
    for (const l of listeners) l();
    return true;
  };
  const timer = setInterval(() => {
    refreshKeys().catch((err: unknown) => log.error({ err }, 'could not read the signing keys; the current ones stay in use'));
  }, config.keyPollSeconds * 1000);
  timer.unref();

  return {
    issuer: config.issuer,
    audiences: config.resources.map((r) => r.indicator),
    mount,
    jwks: (): PublicJwks => publicJwks(keys) as unknown as PublicJwks,
    onKeysChanged(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    refreshKeys,
    async close() {
      clearInterval(timer);
      listeners.clear();
    },
  };
}
