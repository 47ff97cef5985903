/**
 * The account service: users' passwords, TOTP and recovery codes, on top of the store. It is what
 * the login pages (src/auth-server, its LoginAccounts port) and the CLI use.
 *
 * - S6: `verifyPassword` does the same work whatever happens — an unknown user's password is
 *   verified against a dummy Argon2id hash, a disabled user's against their real one — and gives
 *   the same answer `{ ok: false }`; the private `detail` is for logs only.
 * - S7: the password policy on every new password; TOTP codes accepted once (compare-and-set of
 *   the last step); recovery codes single use (atomic delete of their hash).
 * - S9: disabling a user puts the subject on the deny-list, so their live tokens stop at once.
 */
import { randomBytes } from 'node:crypto';
import type { Keyring } from '../secrets/keyring.ts';
import type { Store, UserRecord } from '../store/types.ts';
import { createArgon2Hasher, MAX_PASSWORD_BYTES, type PasswordHasher } from './password-hash.ts';
import { checkPassword, PASSWORD_PROBLEM_TEXT, type PasswordProblem } from './password-policy.ts';
import { generateTotpSecret, matchTotp, otpauthUri } from './totp.ts';
import { generateRecoveryCodes, hashRecoveryCode } from './recovery-codes.ts';
import { base32Encode } from './base32.ts';
import { validUsername } from './usernames.ts';

export type PasswordCheck =
  | { readonly ok: true; readonly user: UserRecord }
  | { readonly ok: false; readonly detail?: 'unknown_user' | 'bad_password' | 'disabled' };

export type PasswordChange = { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly problems: readonly PasswordProblem[] };

export interface NewUser {
  readonly username: string;
  /** Without one, a random one-time password is generated and returned (change at first login). */
  readonly password?: string;
  readonly id?: string;
  readonly roles?: readonly string[];
  readonly displayName?: string;
  readonly email?: string;
}

export interface AccountServiceOptions {
  readonly store: Store;
  readonly keyring: Keyring;
  /** The built-in issuer: the `issuer|user|id` subject of deny-list entries and the otpauth issuer label. */
  readonly issuer: string;
  readonly hasher?: PasswordHasher;
  /** Seconds since the epoch. */
  readonly now?: () => number;
  /** How long a disabled user's deny-list entry lives: the longest lifetime of a token or session (default 1 day). */
  readonly denyTtlSeconds?: number;
}

export class AccountError extends Error {
  readonly code: 'username_invalid' | 'password_rejected' | 'user_exists' | 'no_such_user';
  constructor(code: AccountError['code'], message: string) {
    super(message);
    this.name = 'AccountError';
    this.code = code;
  }
}

/** A one-time password for a new user: 16 base32 characters (80 bits), readable aloud. */
export function oneTimePassword(): string {
  return base32Encode(randomBytes(10)).toLowerCase().match(/.{4}/g)!.join('-');
}

export function describeProblems(problems: readonly PasswordProblem[]): string {
  return `The password ${problems.map((p) => PASSWORD_PROBLEM_TEXT[p]).join('; ')}.`;
}

export function createAccountService(options: AccountServiceOptions) {
  const { store, keyring } = options;
  const hasher = options.hasher ?? createArgon2Hasher();
  const now = options.now ?? (() => Date.now() / 1000);
  const openSecret = (user: UserRecord): Buffer | undefined => {
    const sealed = user.totpSecretSealed;
    if (!sealed) return undefined;
    const secret = keyring.open('totp-secrets', sealed, user.id);
    if (keyring.needsReseal('totp-secrets', sealed)) {
      // Sealed by an older master key: seal again with the current one (rotation, S4), best effort.
      void store.users.update(user.id, { totpSecretSealed: keyring.seal('totp-secrets', secret, user.id) }).catch(() => undefined);
    }
    return secret;
  };
  const subject = (userId: string): string => `${options.issuer}|user|${userId}`;
  const requireUser = async (id: string): Promise<UserRecord> => {
    const u = await store.users.get(id);
    if (!u) throw new AccountError('no_such_user', `No user ${id}.`);
    return u;
  };

  const service = {
    hasher,

    async createUser(input: NewUser): Promise<{ user: UserRecord; oneTimePassword?: string }> {
      const username = validUsername(input.username);
      if (!username) throw new AccountError('username_invalid', 'A username has 1 to 64 letters, digits or . _ - @ +.');
      const generated = input.password === undefined ? oneTimePassword() : undefined;
      const password = input.password ?? (generated as string);
      if (input.password !== undefined) {
        const problems = checkPassword(password, { username });
        if (problems.length) throw new AccountError('password_rejected', describeProblems(problems));
      }
      const t = Math.floor(now());
      const user: UserRecord = {
        id: input.id ?? username, username, passwordHash: await hasher.hash(password),
        // S7: a password set by an administrator (or generated) is changed at first login.
        mustChangePassword: true,
        roles: [...(input.roles ?? [])], recoveryCodeHashes: [], disabled: false, createdAt: t, updatedAt: t,
        ...(input.displayName !== undefined ? { displayName: input.displayName } : {}),
        ...(input.email !== undefined ? { email: input.email } : {}),
      };
      if (await store.users.getByUsername(username)) throw new AccountError('user_exists', `A user named ${username} exists.`);
      await store.users.create(user);
      return generated === undefined ? { user } : { user, oneTimePassword: generated };
    },

    /** S6: the same work and the same answer for unknown, disabled and wrong. */
    async verifyPassword(username: string, password: string): Promise<PasswordCheck> {
      const name = typeof username === 'string' ? validUsername(username) : undefined;
      const candidate = typeof password === 'string' && Buffer.byteLength(password) <= MAX_PASSWORD_BYTES ? password : '';
      const user = name ? await store.users.getByUsername(name) : undefined;
      const ok = await hasher.verify(user?.passwordHash ?? (await hasher.dummyHash()), candidate);
      if (!user) return { ok: false, detail: 'unknown_user' };
      if (!ok || candidate === '') return { ok: false, detail: 'bad_password' };
      if (user.disabled) return { ok: false, detail: 'disabled' };
      if (hasher.needsRehash(user.passwordHash)) {
        // Parameters were raised (or an older scheme was used): store a new hash now that we have the password.
        await store.users.update(user.id, { passwordHash: await hasher.hash(candidate) }).catch(() => undefined);
      }
      return { ok: true, user };
    },

    /** Sets a new password chosen by the user (after they signed in); clears mustChangePassword. */
    async changePassword(user: UserRecord, newPassword: string): Promise<PasswordChange> {
      const problems = checkPassword(newPassword, { username: user.username });
      if (problems.length) return { ok: false, reason: describeProblems(problems), problems };
      if (await hasher.verify(user.passwordHash, newPassword)) return { ok: false, reason: 'Choose a password different from the current one.', problems: [] };
      await store.users.update(user.id, { passwordHash: await hasher.hash(newPassword), mustChangePassword: false });
      return { ok: true };
    },

    /** An administrator's reset: a new one-time password, changed at next login. */
    async resetPassword(userId: string): Promise<string> {
      await requireUser(userId);
      const password = oneTimePassword();
      await store.users.update(userId, { passwordHash: await hasher.hash(password), mustChangePassword: true });
      return password;
    },

    /** A secret for enrolment, kept by the caller (the login interaction) until confirmed. */
    newTotpEnrolment(user: UserRecord): { secret: Buffer; base32: string; uri: string } {
      const secret = generateTotpSecret();
      return { secret, base32: base32Encode(secret), uri: otpauthUri(secret, user.username, new URL(options.issuer).host || options.issuer) };
    },

    /** Confirms enrolment with a first valid code; stores the sealed secret and returns fresh recovery codes. */
    async enrolTotp(user: UserRecord, secret: Uint8Array, code: string, at: number): Promise<{ ok: true; recoveryCodes: string[] } | { ok: false }> {
      const step = matchTotp(secret, code, at);
      if (step === undefined) return { ok: false };
      const recoveryCodes = generateRecoveryCodes();
      await store.users.update(user.id, {
        totpSecretSealed: keyring.seal('totp-secrets', secret, user.id),
        totpLastStep: step,
        recoveryCodeHashes: recoveryCodes.map(hashRecoveryCode),
      });
      return { ok: true, recoveryCodes };
    },

    /** RFC 6238 ±1 step; true only for the first use of a code newer than the last accepted one. */
    async verifyTotp(user: UserRecord, code: string, at: number): Promise<boolean> {
      if (typeof code !== 'string' || code.length > 16) return false;
      const secret = openSecret(user);
      if (!secret) return false;
      const step = matchTotp(secret, code, at);
      if (step === undefined) return false;
      return store.users.advanceTotpStep(user.id, step);
    },

    async useRecoveryCode(user: UserRecord, code: string): Promise<boolean> {
      if (typeof code !== 'string' || code.length > 64) return false;
      return store.users.consumeRecoveryCode(user.id, hashRecoveryCode(code));
    },

    async regenerateRecoveryCodes(userId: string): Promise<string[]> {
      await requireUser(userId);
      const codes = generateRecoveryCodes();
      await store.users.update(userId, { recoveryCodeHashes: codes.map(hashRecoveryCode) });
      return codes;
    },

    /** Forgets the TOTP secret and recovery codes: the user enrols again at next login. */
    async resetMfa(userId: string): Promise<void> {
      await requireUser(userId);
      await store.users.update(userId, { totpSecretSealed: undefined, totpLastStep: undefined, recoveryCodeHashes: [] });
    },

    /** Disables the user and withdraws their live tokens (deny-list 'subject', S9). */
    async disableUser(userId: string, reason = 'user disabled'): Promise<void> {
      await requireUser(userId);
      // Tokens issued up to and including this second (`iat` is whole seconds) are refused.
      const cutOff = Math.floor(now()) + 1;
      await store.users.update(userId, { disabled: true });
      await store.denyList.add({ kind: 'subject', value: subject(userId), notBefore: cutOff, expiresAt: cutOff + (options.denyTtlSeconds ?? 86_400), reason });
    },

    async enableUser(userId: string): Promise<void> {
      await requireUser(userId);
      await store.users.update(userId, { disabled: false });
    },

    get: (userId: string) => store.users.get(userId),
    getByUsername: (username: string) => {
      const name = validUsername(username);
      return name ? store.users.getByUsername(name) : Promise.resolve(undefined);
    },
  };
  return service;
}

export type AccountService = ReturnType<typeof createAccountService>;
