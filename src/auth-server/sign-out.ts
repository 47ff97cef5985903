/**
 * Signing a user out everywhere, as a password change does (Keycloak and Google do the same):
 *
 * - every session, grant, authorization code, device code and refresh token of the account is
 *   removed from the store, with whatever else belongs to those grants, so nothing can mint a token
 *   again; half-done logins of the user (a password step passed, the second factor not yet) go too;
 * - the grants found go on the deny-list (S9) and a `subject` cut-off withdraws every access token
 *   issued to the user until now, including those of grants the store no longer knows (a JWT cannot
 *   be recalled; the gateway refuses it), on every instance.
 */
import type { Store } from '../store/types.ts';
import { LOGIN_STATE_MODEL } from './login-state.ts';
import { MAX_ACCESS_TOKEN_TTL } from './config.ts';

/** How long deny-list entries of the built-in server live: past its longest access token. */
export const DENY_SECONDS = MAX_ACCESS_TOKEN_TTL + 60;

/** The oidc-provider models whose payload carries `accountId`, and the login pages' own state. */
const ACCOUNT_MODELS = ['Session', 'Grant', 'AuthorizationCode', 'DeviceCode', 'RefreshToken', 'AccessToken', 'BackchannelAuthenticationRequest', LOGIN_STATE_MODEL] as const;

export interface SignOutOptions {
  /** The built-in issuer: deny-list subjects are `issuer|user|id` (src/store/types.ts DenyEntry). */
  readonly issuer: string;
  readonly userId: string;
  readonly reason: string;
  /** How long the cut-off lives: past the longest access token. */
  readonly denySeconds: number;
  /** Deny-lists one grant (the authorization server's onGrantRevoked). */
  readonly revokeGrant: (grantId: string, reason: string) => Promise<void>;
  /** Seconds since the epoch. */
  readonly now?: () => number;
}

/** Puts one grant on the deny-list: every access token of it stops working, on every instance (S9). */
export async function denyGrant(store: Pick<Store, 'denyList'>, grantId: string, reason: string, denySeconds: number): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  await store.denyList.add({ kind: 'grant', value: grantId, notBefore: now + 1, expiresAt: now + denySeconds, reason });
}

export async function signOutEverywhere(store: Pick<Store, 'oidc' | 'denyList'>, o: SignOutOptions): Promise<{ artefacts: number; grants: number }> {
  const grants = new Set<string>();
  let artefacts = 0;
  for (const model of ACCOUNT_MODELS) {
    for (const a of await store.oidc.listByAccount(model, o.userId)) {
      if (a.grantId !== undefined) grants.add(a.grantId);
      // A session names its grants per client (oidc-provider's `authorizations`).
      const authorizations = model === 'Session' ? a.payload.authorizations : undefined;
      if (authorizations && typeof authorizations === 'object') {
        for (const v of Object.values(authorizations as Record<string, { grantId?: unknown }>)) if (typeof v?.grantId === 'string') grants.add(v.grantId);
      }
      await store.oidc.destroy(model, a.idHash);
      artefacts += 1;
    }
  }
  for (const grantId of grants) {
    artefacts += await store.oidc.revokeByGrantId(grantId);
    await o.revokeGrant(grantId, o.reason);
  }
  // Computed once the artefacts are gone, so any token minted meanwhile is older than the cut-off;
  // one second more for the clocks of other instances (`iat` is whole seconds), as disabling does.
  const cutOff = Math.floor((o.now ?? (() => Date.now() / 1000))()) + 1;
  await store.denyList.add({ kind: 'subject', value: `${o.issuer}|user|${o.userId}`, notBefore: cutOff, expiresAt: cutOff + o.denySeconds, reason: o.reason });
  return { artefacts, grants: grants.size };
}
