/**
 * What the login pages know about one interaction, kept in the store under SHA-256 of the
 * interaction uid (so every instance sees it) and gone with the interaction: which user passed the
 * password step, which second factor passed, the authenticator secret being enrolled (sealed).
 * Both factors must pass within the same interaction before a login result exists.
 */
import { createHash } from 'node:crypto';
import type { OidcStore } from '../store/types.ts';

export const LOGIN_STATE_MODEL = 'RampartLogin';

export interface LoginState {
  readonly userId?: string;
  readonly username?: string;
  readonly passwordAt?: number;
  readonly secondFactor?: 'otp' | 'recovery';
  /** TOTP secret being enrolled, sealed ('totp-secrets', AAD = user id). */
  readonly enrolSealed?: string;
}

const key = (uid: string) => createHash('sha256').update(`login-state:${uid}`).digest('hex');

export async function readLoginState(store: OidcStore, uid: string): Promise<LoginState> {
  const found = await store.find(LOGIN_STATE_MODEL, key(uid));
  if (!found || found.expiresAt <= Math.floor(Date.now() / 1000)) return {};
  return found.payload as LoginState;
}

export async function writeLoginState(store: OidcStore, uid: string, state: LoginState, expiresAt: number): Promise<void> {
  // `accountId` (oidc-provider's name) lets a password change find and drop the user's half-done
  // logins (sign-out.ts): a password step passed with the old password must not finish later.
  const payload = { ...state, ...(state.userId !== undefined ? { accountId: state.userId } : {}) };
  await store.upsert({ model: LOGIN_STATE_MODEL, idHash: key(uid), payload, expiresAt });
}

export async function clearLoginState(store: OidcStore, uid: string): Promise<void> {
  await store.destroy(LOGIN_STATE_MODEL, key(uid));
}
