/**
 * The accounts the login pages need, as a narrow port: src/accounts' `createAccountService`
 * implements it (Argon2id passwords, sealed TOTP secrets, hashed recovery codes, S6/S7).
 */
import type { UserRecord } from '../store/types.ts';

export type PasswordCheck = { readonly ok: true; readonly user: UserRecord } | { readonly ok: false };

export interface LoginAccounts {
  /**
   * Username + password. Unknown and disabled users cost the same work as known ones (a dummy
   * hash is verified, S6) and get the same answer.
   */
  verifyPassword(username: string, password: string): Promise<PasswordCheck>;
  /** RFC 6238 with ±1 step; the last accepted step advances by compare-and-set, so a code works once (S7). */
  verifyTotp(user: UserRecord, code: string, now: number): Promise<boolean>;
  /** A recovery code, single use (removed atomically from the stored hashes). */
  useRecoveryCode(user: UserRecord, code: string): Promise<boolean>;
  /** Confirms enrolment with a first valid code; stores the sealed secret and returns fresh recovery codes. */
  enrolTotp(user: UserRecord, secret: Uint8Array, code: string, now: number): Promise<{ ok: true; recoveryCodes: string[] } | { ok: false }>;
  /** S7 password policy; clears mustChangePassword. */
  changePassword(user: UserRecord, newPassword: string): Promise<{ ok: true } | { ok: false; reason: string }>;
  get(userId: string): Promise<UserRecord | undefined>;
}
