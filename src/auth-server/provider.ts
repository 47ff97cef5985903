/**
 * The oidc-provider configuration: which grants exist, how tokens look and live, where the pages
 * and the data come from. Secure choices are made here once:
 *
 * - response type `code` only (no implicit, RFC 9700 §2.1.2), no password grant (§2.4); PKCE
 *   required for every client, S256 only (RFC 7636 §4.2; oidc-provider refuses `plain`).
 * - redirect URIs compared exactly (RFC 9700 §4.1.3; oidc-provider's string comparison), never
 *   omitted even when a client registered only one.
 * - access tokens are JWTs per RFC 9068 (typ at+jwt, ES256) through resource indicators (RFC 8707),
 *   short-lived; refresh tokens opaque, rotated on every use (RFC 9700 §4.14.2).
 * - client authentication: client_secret_basic / client_secret_post / none; no symmetric (HS*)
 *   algorithms anywhere, so a client secret is never a signing key.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Provider, { errors, type Configuration, type KoaContextWithOIDC, type ResourceServer } from 'oidc-provider';
import type { Keyring } from '../secrets/keyring.ts';
import type { Store } from '../store/types.ts';
import type { AuthServerConfig, StaticClientConfig } from './config.ts';
import type { LoginAccounts } from './accounts.ts';
import { adapterFactory } from './adapter.ts';
import { providerJwks, type SigningKeySet } from './signing-keys.ts';
import { deviceConfirmPage, deviceInputPage, deviceSuccessPage, errorPage, logoutPage, logoutSuccessPage } from './pages/provider-pages.ts';

import { ACR_MFA, ACR_RECOVERY } from './acr.ts';
export { ACR_MFA, ACR_RECOVERY };
/** RFC 9068 §2.2 does not name the grant: Rampart's claim for it (the deny-list revokes grants). */
export const GRANT_CLAIM = 'grant_id';
export const OIDC_SCOPES = ['openid', 'offline_access', 'profile', 'email'] as const;

export interface ProviderDeps {
  readonly config: AuthServerConfig;
  readonly store: Store;
  readonly keyring: Keyring;
  readonly accounts: LoginAccounts;
  readonly keys: SigningKeySet;
  /** Where /auth/assets lives (for the pages). */
  readonly assets: string;
  /** The mount path (the issuer's path), e.g. /auth. */
  readonly mountPath: string;
  /** A grant was revoked (refresh reuse, code replay, revocation, logout): deny-list it. */
  readonly onGrantRevoked: (grantId: string, reason: string) => Promise<void>;
  /** An unexpected error inside the provider (the client saw a bare server_error). */
  readonly onServerError?: (err: unknown) => void;
}

export function hashClientSecret(secret: string): string {
  return `sha256:${createHash('sha256').update(secret, 'utf8').digest('hex')}`;
}

function staticClient(c: StaticClientConfig): Record<string, unknown> {
  return {
    client_id: c.clientId,
    ...(c.clientName ? { client_name: c.clientName } : {}),
    redirect_uris: [...c.redirectUris],
    post_logout_redirect_uris: [...c.postLogoutRedirectUris],
    grant_types: [...c.grantTypes],
    response_types: c.grantTypes.includes('authorization_code') ? ['code'] : [],
    token_endpoint_auth_method: 'none',
    scope: c.scopes.join(' '),
    application_type: c.redirectUris.some((u) => !u.startsWith('https://')) ? 'native' : 'web',
  };
}

export function createProvider(deps: ProviderDeps): Provider {
  const { config, mountPath } = deps;
  const resources = new Map(config.resources.map((r) => [r.indicator, r]));
  const assets = { assets: deps.assets };
  const now = () => Math.floor(Date.now() / 1000);

  const configuration: Configuration = {
    adapter: adapterFactory({
      store: deps.store,
      sealId: (id, idHash) => deps.keyring.seal('oidc-artefacts', id, idHash),
      openId: (sealed, idHash) => deps.keyring.open('oidc-artefacts', sealed, idHash).toString('utf8'),
      onReplay: (grantId, model) => deps.onGrantRevoked(grantId, `${model} presented again`),
    }) as unknown as Configuration['adapter'],
    clients: config.clients.map(staticClient) as unknown as Configuration["clients"],
    jwks: providerJwks(deps.keys, deps.keyring) as Configuration['jwks'],
    cookies: {
      names: { session: 'rampart-auth-session', interaction: 'rampart-auth-interaction', resume: 'rampart-auth-resume' },
      // The session cookie is scoped to the mount path, the interaction cookies to their own page
      // (oidc-provider sets those paths): browsers never send them to an upstream's path (S1).
      long: { httpOnly: true, sameSite: 'lax', secure: true, path: mountPath || '/', signed: true },
      short: { httpOnly: true, sameSite: 'lax', secure: true, signed: true },
      keys: [deps.keyring.mac('signing-keys', 'rampart/auth-server/cookies').mac],
    } as Configuration['cookies'],
    claims: { openid: ['sub'], profile: ['preferred_username', 'name'], email: ['email'] },
    scopes: [...new Set([...OIDC_SCOPES, ...config.resources.flatMap((r) => r.scopes)])],
    acrValues: [ACR_MFA, ACR_RECOVERY],
    responseTypes: ['code'],
    clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
    enabledJWA: {
      idTokenSigningAlgValues: ['ES256'],
      userinfoSigningAlgValues: ['ES256'],
      introspectionSigningAlgValues: ['ES256'],
      authorizationSigningAlgValues: ['ES256'],
      clientAuthSigningAlgValues: ['ES256', 'EdDSA'],
      requestObjectSigningAlgValues: ['ES256', 'EdDSA'],
      dPoPSigningAlgValues: ['ES256', 'EdDSA'],
    } as Configuration['enabledJWA'],
    clientDefaults: { grant_types: ['authorization_code'], response_types: ['code'], id_token_signed_response_alg: 'ES256', token_endpoint_auth_method: 'client_secret_basic' },
    allowOmittingSingleRegisteredRedirectUri: false,
    pkce: { required: () => true },
    // Both factors are checked by Rampart's pages; a fresh login for every new interaction.
    interactions: { url: (_ctx, interaction) => `${mountPath}/interaction/${interaction.uid}` },
    routes: {
      authorization: '/authorize',
      token: '/token',
      jwks: '/jwks',
      userinfo: '/userinfo',
      revocation: '/token/revocation',
      introspection: '/token/introspection',
      end_session: '/session/end',
      device_authorization: '/device/auth',
      code_verification: '/device',
      pushed_authorization_request: '/par',
    },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: {
        enabled: true,
        // RFC 7662 §4: only authenticated (confidential) clients, and only for their own tokens.
        allowedPolicy: async (ctx, client, token) => client.clientAuthMethod !== 'none' && (token.clientId === undefined || token.clientId === client.clientId),
      },
      revocation: { enabled: true },
      userinfo: { enabled: true },
      registration: { enabled: false },
      deviceFlow: {
        enabled: true,
        charset: 'base-20',
        mask: '****-****',
        userCodeInputSource: async (ctx, form, _out, err) => {
          const kind = !err ? undefined : (err as { userCode?: unknown; name?: string }).userCode || err.name === 'NoCodeError' ? 'code' : err.name === 'AbortedError' ? 'aborted' : 'other';
          ctx.type = 'html';
          ctx.body = deviceInputPage(assets, form, kind);
        },
        userCodeConfirmSource: async (ctx, form, client, _info, userCode) => {
          ctx.type = 'html';
          ctx.body = deviceConfirmPage(assets, form, client.clientName ?? client.clientId, userCode);
        },
        successSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = deviceSuccessPage(assets, ctx.oidc.client?.clientName ?? ctx.oidc.client?.clientId ?? 'The device');
        },
      },
      rpInitiatedLogout: {
        enabled: true,
        logoutSource: async (ctx, form) => {
          ctx.type = 'html';
          ctx.body = logoutPage(assets, form, new URL(config.issuer).host);
        },
        postLogoutSuccessSource: async (ctx) => {
          ctx.type = 'html';
          ctx.body = logoutSuccessPage(assets);
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: async (_ctx, _client, oneOf) => oneOf ?? config.defaultResource ?? (undefined as unknown as string),
        useGrantedResource: async () => true,
        getResourceServerInfo: async (_ctx, indicator) => {
          const r = resources.get(indicator);
          if (!r) throw new errors.InvalidTarget();
          const info: ResourceServer = {
            scope: r.scopes.join(' '),
            audience: r.indicator,
            accessTokenTTL: r.accessTokenTtlSeconds ?? config.accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
          return info;
        },
      },
    } as Configuration['features'],
    // RFC 9068 §2.2.1: authentication information; and the grant, which the deny-list revokes.
    extraTokenClaims: async (ctx, token) => {
      const t = token as unknown as { grantId?: string; accountId?: string };
      if (!t.accountId) return undefined;
      const e = ctx.oidc.entities as Record<string, { acr?: string; amr?: string[]; authTime?: number } | undefined>;
      const src = e.AuthorizationCode ?? e.RotatedRefreshToken ?? e.RefreshToken ?? e.DeviceCode;
      return {
        ...(t.grantId ? { [GRANT_CLAIM]: t.grantId } : {}),
        ...(src?.acr ? { acr: src.acr } : {}),
        ...(src?.amr ? { amr: src.amr } : {}),
        ...(src?.authTime ? { auth_time: src.authTime } : {}),
      };
    },
    issueRefreshToken: async (_ctx, client, code) => client.grantTypeAllowed('refresh_token') && code.scopes.has('offline_access'),
    rotateRefreshToken: true,
    revokeGrantPolicy: () => true,
    expiresWithSession: async () => false,
    ttl: {
      AccessToken: (_ctx, token) => (token as unknown as { resourceServer?: { accessTokenTTL?: number } }).resourceServer?.accessTokenTTL ?? config.accessTokenTtlSeconds,
      ClientCredentials: (_ctx, token) => (token as unknown as { resourceServer?: { accessTokenTTL?: number } }).resourceServer?.accessTokenTTL ?? config.accessTokenTtlSeconds,
      AuthorizationCode: 60,
      DeviceCode: config.deviceCodeTtlSeconds,
      IdToken: 300,
      Interaction: config.interactionTtlSeconds,
      Session: config.sessionTtlSeconds,
      Grant: config.refreshToken.absoluteTtlSeconds,
      // Idle lifetime, never beyond the absolute one counted from the first token of the chain.
      RefreshToken: (_ctx, token) => {
        const first = (token as unknown as { iiat?: number; iat?: number }).iiat ?? now();
        return Math.max(1, Math.min(config.refreshToken.idleTtlSeconds, first + config.refreshToken.absoluteTtlSeconds - now()));
      },
    } as Configuration['ttl'],
    findAccount: async (_ctx, sub) => {
      const user = await deps.accounts.get(sub);
      if (!user || user.disabled) return undefined;
      return {
        accountId: user.id,
        claims: async () => ({
          sub: user.id,
          preferred_username: user.username,
          ...(user.displayName ? { name: user.displayName } : {}),
          ...(user.email ? { email: user.email } : {}),
        }),
      };
    },
    renderError: async (ctx, out) => {
      ctx.type = 'html';
      ctx.body = errorPage(assets, out as { error?: string; error_description?: string });
    },
    clockTolerance: 5,
  };

  const provider = new Provider(config.issuer, configuration);
  provider.proxy = false;
  // Client secrets are stored hashed (S4): compare the hash of what was presented, in constant time.
  const ClientClass = provider.Client as unknown as { prototype: { compareClientSecret(this: { clientSecret?: string }, actual: string): Promise<boolean> } };
  ClientClass.prototype.compareClientSecret = async function (this: { clientSecret?: string }, actual: string) {
    const stored = this.clientSecret ?? '';
    const presented = stored.startsWith('sha256:') ? hashClientSecret(actual) : actual;
    const a = Buffer.from(presented);
    const b = Buffer.from(stored);
    return a.length === b.length && timingSafeEqual(a, b);
  };
  // Clients get a bare server_error; operators get the error (never the request's query string).
  provider.on('server_error', (_ctx: unknown, err: unknown) => deps.onServerError?.(err));
  // A revoked grant is deny-listed before the response leaves (logout, revocation, refresh reuse):
  // once the client sees the answer, the grant's access tokens are already refused everywhere.
  const pending = new WeakMap<object, Promise<void>[]>();
  provider.on('grant.revoked', (ctx: KoaContextWithOIDC, grantId: string) => {
    const p = deps.onGrantRevoked(grantId, `revoked at ${ctx.oidc?.route ?? 'provider'}`);
    const list = pending.get(ctx) ?? [];
    list.push(p);
    pending.set(ctx, list);
  });
  // Logging out (end-session, "yes, sign me out") ends every grant of the session, offline ones
  // included: their refresh tokens are destroyed and their access tokens deny-listed.
  provider.on('end_session.success', (ctx: KoaContextWithOIDC) => {
    if (!ctx.oidc.params?.logout) return;
    const authorizations = (ctx.oidc.session as unknown as { authorizations?: Record<string, { grantId?: string }> } | undefined)?.authorizations ?? {};
    const list = pending.get(ctx) ?? [];
    for (const { grantId } of Object.values(authorizations)) {
      if (!grantId) continue;
      list.push(
        (async () => {
          await deps.store.oidc.revokeByGrantId(grantId);
          await provider.Grant.adapter.destroy(grantId);
          await deps.onGrantRevoked(grantId, 'end-session');
        })(),
      );
    }
    pending.set(ctx, list);
  });
  provider.use(async (ctx, next) => {
    await next();
    await Promise.all(pending.get(ctx) ?? []);
  });
  return provider;
}
