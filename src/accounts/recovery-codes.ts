/**
 * Recovery codes (S7): 10 single-use codes of 120 random bits each (≥ 112 required), shown once as
 * 24 base32 characters (RFC 4648) in groups of four (`ABCD-EFGH-…`), stored as SHA-256 hex of
 * the normalised code. A fast hash is enough here: 2^120 guesses cannot be brute-forced, unlike
 * passwords. A code used to sign in yields `amr` without `otp` and counts towards lockout like a
 * failed TOTP (the login's limiter).
 */
import { createHash, randomBytes } from 'node:crypto';
import { base32Encode } from './base32.ts';

export const RECOVERY_CODE_COUNT = 10;
export const RECOVERY_CODE_BITS = 120;

export function generateRecoveryCodes(count = RECOVERY_CODE_COUNT): string[] {
  return Array.from({ length: count }, () => {
    const text = base32Encode(randomBytes(RECOVERY_CODE_BITS / 8));
    return text.match(/.{4}/g)!.join('-');
  });
}

/** Upper case without separators or spaces: what the user types may differ in those. */
export function normalizeRecoveryCode(code: string): string {
  return code.replace(/[\s-]/g, '').toUpperCase();
}

export function hashRecoveryCode(code: string): string {
  return createHash('sha256').update(normalizeRecoveryCode(code), 'utf8').digest('hex');
}
