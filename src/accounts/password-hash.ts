/**
 * Password hashing: Argon2id (RFC 9106) through @node-rs/argon2, stored as PHC strings
 * (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). Parameters: m = 19 MiB, t = 2, p = 1 — the
 * OWASP Password Storage Cheat Sheet's first Argon2id configuration (equivalent strength to
 * RFC 9106 §4's low-memory option at a memory cost a gateway can afford per concurrent login),
 * 16-byte random salt, 32-byte tag. Raising them later is safe: `needsRehash` tells the login to
 * store a new hash once the password has been verified.
 *
 * Passwords are NFKC-normalised before hashing (S7; NIST SP 800-63B §5.1.1.2) and never truncated.
 */
import { hash, verify, type Algorithm } from '@node-rs/argon2';
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** `Algorithm.Argon2id` of @node-rs/argon2 (a const enum, which erasable TypeScript cannot read). */
const ARGON2ID = 2 as Algorithm;

export const ARGON2_PARAMS = Object.freeze({ algorithm: ARGON2ID, memoryCost: 19_456, timeCost: 2, parallelism: 1, outputLen: 32 });

/** Longer input is not hashed at all (the work would grow with it): a login with it fails after the dummy work. */
export const MAX_PASSWORD_BYTES = 4096;

export interface PasswordHasher {
  /** PHC string of the NFKC-normalised password. */
  hash(password: string): Promise<string>;
  /** True when `password` matches `phc`; false for a malformed PHC string (never throws). */
  verify(phc: string, password: string): Promise<boolean>;
  /** True when `phc` was made with other parameters than the current ones. */
  needsRehash(phc: string): boolean;
  /** A valid hash of a random password with the current parameters: unknown users are verified against it (S6). */
  dummyHash(): Promise<string>;
}

export function normalizePassword(password: string): string {
  return password.normalize('NFKC');
}

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;

export function createArgon2Hasher(params: { memoryCost: number; timeCost: number; parallelism: number } = ARGON2_PARAMS): PasswordHasher {
  const options = { ...ARGON2_PARAMS, ...params };
  let dummy: Promise<string> | undefined;
  const self: PasswordHasher = {
    hash: (password) => hash(normalizePassword(password), options),
    async verify(phc, password) {
      const normalized = normalizePassword(password);
      if (SCRYPT_PHC.test(phc) && Buffer.byteLength(normalized) <= MAX_PASSWORD_BYTES) return verifyScrypt(phc, normalized);
      if (!PHC.test(phc) || Buffer.byteLength(normalized) > MAX_PASSWORD_BYTES) {
        // Same work as a real check, then no.
        await verify(await self.dummyHash(), 'x').catch(() => false);
        return false;
      }
      try {
        return await verify(phc, normalized);
      } catch {
        return false;
      }
    },
    needsRehash(phc) {
      const m = PHC.exec(phc);
      return !m || Number(m[1]) !== options.memoryCost || Number(m[2]) !== options.timeCost || Number(m[3]) !== options.parallelism;
    },
    dummyHash() {
      dummy ??= hash(randomBytes(32).toString('base64url'), options);
      return dummy;
    },
  };
  return self;
}

/**
 * Legacy: scrypt PHC strings (`$scrypt$ln=15,r=8,p=1$<salt>$<key>`, base64url) written before
 * Argon2id was in place verify, and `needsRehash` says to replace them at the next login.
 */
const SCRYPT_PHC = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]{16,})$/;

function verifyScrypt(phc: string, password: string): Promise<boolean> {
  const [, ln, r, p, salt, key] = SCRYPT_PHC.exec(phc) as unknown as [string, string, string, string, string, string];
  const expected = Buffer.from(key, 'base64url');
  const N = 2 ** Number(ln);
  if (N > 2 ** 20) return Promise.resolve(false);
  return new Promise((resolve) => {
    scrypt(password, Buffer.from(salt, 'base64url'), expected.length, { N, r: Number(r), p: Number(p), maxmem: 256 * 1024 * 1024 }, (err, derived) => {
      resolve(!err && derived.length === expected.length && timingSafeEqual(derived, expected));
    });
  });
}
