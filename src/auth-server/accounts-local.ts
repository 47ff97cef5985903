/**
 * A LoginAccounts over the store: scrypt password hashes (PHC strings), TOTP secrets sealed with
 * the keyring ('totp-secrets', AAD = user id), recovery codes stored as SHA-256.
 *
 * Part 3a's src/accounts is the account service of record (breached-password list, Argon2id or
 * scrypt with documented parameters, CLI); this implementation keeps the login pages working and
 * tested meanwhile, with the same storage format for what both read (UserRecord).
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Keyring } from '../secrets/keyring.ts';
import type { Store, UserRecord } from '../store/types.ts';
import type { LoginAccounts } from './accounts.ts';
import { matchTotp } from './totp.ts';

/** scrypt N = 2^15, r = 8, p = 1 (RFC 7914 §2; OWASP Password Storage Cheat Sheet minimum), 32-byte key. */
const N = 1 << 15;
const R = 8;
const P = 1;
const KEYLEN = 32;
const MAXMEM = 64 * 1024 * 1024;

function scrypt(password: string, salt: Buffer, n: number, r: number, p: number): Promise<Buffer> {
  const options: ScryptOptions = { N: n, r, p, maxmem: MAXMEM };
  return new Promise((resolve, reject) => scryptCb(password, salt, KEYLEN, options, (e, k) => (e ? reject(e) : resolve(k))));
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password.normalize('NFKC'), salt, N, R, P);
  return `$scrypt$ln=15,r=${R},p=${P}$${salt.toString('base64url')}$${key.toString('base64url')}`;
}

export async function verifyPasswordHash(phc: string, password: string): Promise<boolean> {
  const m = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(phc);
  if (!m) return false;
  const [, ln, r, p, salt, hash] = m as unknown as [string, string, string, string, string, string];
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password.normalize('NFKC'), Buffer.from(salt, 'base64url'), 1 << Number(ln), Number(r), Number(p));
  return key.length === expected.length && timingSafeEqual(key, expected);
}

export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(normaliseRecoveryCode(code)).digest('hex');
}

function normaliseRecoveryCode(code: string): string {
  return code.replace(/[\s-]/g, '').toLowerCase();
}

/** 10 codes of 128 bits each (≥ 112 required, S7), hex in groups of four for reading aloud. */
export function newRecoveryCodes(count = 10): string[] {
  return Array.from({ length: count }, () => randomBytes(16).toString('hex').match(/.{4}/g)!.join('-'));
}

const COMMON = new Set(['password', 'password1', '12345678', '123456789', '1234567890', 'qwertyui', 'qwerty123', 'iloveyou', 'sunshine', 'letmein1', 'football', 'baseball', 'welcome1', 'admin123', 'abc12345', 'passw0rd', 'trustno1', 'princess', 'superman', 'starwars']);

export function passwordProblem(password: string): string | undefined {
  const p = password.normalize('NFKC');
  const length = [...p].length;
  // S7: 8–128 characters after NFKC, never truncated (longer is refused, not cut).
  if (length < 8) return 'Use at least 8 characters.';
  if (length > 128) return 'Use at most 128 characters.';
  if (COMMON.has(p.toLowerCase())) return 'This password appears in lists of breached passwords; choose another.';
  return undefined;
}

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(phc: string, password: string): Promise<boolean>;
}

export const scryptHasher: PasswordHasher = { hash: hashPassword, verify: verifyPasswordHash };

export interface LocalAccountsOptions {
  readonly store: Store;
  readonly keyring: Keyring;
  /** scrypt by default; tests pass a recording wrapper to see which hash was verified. */
  readonly hasher?: PasswordHasher;
}

export async function createLocalAccounts(options: LocalAccountsOptions): Promise<LoginAccounts> {
  const { store, keyring } = options;
  const hasher = options.hasher ?? scryptHasher;
  // S6: the same work for unknown users: a real hash of a random password, verified and discarded.
  const dummy = await hasher.hash(randomBytes(16).toString('hex'));
  const openSecret = (user: UserRecord): Buffer | undefined => (user.totpSecretSealed ? keyring.open('totp-secrets', user.totpSecretSealed, user.id) : undefined);
  return {
    async verifyPassword(username, password) {
      const user = await store.users.getByUsername(username.normalize('NFKC').toLowerCase());
      const candidate = typeof password === 'string' && [...password].length <= 1024 ? password : '';
      const ok = await hasher.verify(user && !user.disabled ? user.passwordHash : dummy, candidate);
      if (!user || user.disabled || !ok) return { ok: false };
      return { ok: true, user };
    },
    async verifyTotp(user, code, now) {
      const secret = openSecret(user);
      if (!secret) return false;
      const step = matchTotp(secret, code, now);
      if (step === undefined) return false;
      // S7: a code already used (or an older one) loses the compare-and-set.
      return store.users.advanceTotpStep(user.id, step);
    },
    async useRecoveryCode(user, code) {
      if (typeof code !== 'string' || code.length > 64) return false;
      return store.users.consumeRecoveryCode(user.id, hashRecoveryCode(code));
    },
    async enrolTotp(user, secret, code, now) {
      const step = matchTotp(secret, code, now);
      if (step === undefined) return { ok: false };
      const recoveryCodes = newRecoveryCodes();
      await store.users.update(user.id, {
        totpSecretSealed: keyring.seal('totp-secrets', secret, user.id),
        totpLastStep: step,
        recoveryCodeHashes: recoveryCodes.map(hashRecoveryCode),
        updatedAt: Math.floor(now),
      });
      return { ok: true, recoveryCodes };
    },
    async changePassword(user, newPassword) {
      const problem = passwordProblem(newPassword);
      if (problem) return { ok: false, reason: problem };
      if (await hasher.verify(user.passwordHash, newPassword)) return { ok: false, reason: 'Choose a password different from the current one.' };
      await store.users.update(user.id, { passwordHash: await hasher.hash(newPassword), mustChangePassword: false, updatedAt: Math.floor(Date.now() / 1000) });
      return { ok: true };
    },
    get: (id) => store.users.get(id),
  };
}
