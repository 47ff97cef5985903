/**
 * TOTP (RFC 6238) over HOTP (RFC 4226): HMAC-SHA-1, 6 digits, 30-second steps from the Unix epoch,
 * the step before and after accepted for clock drift (RFC 6238 §5.2 recommends at most one step
 * of network delay). Authenticator apps implement exactly this profile. Replay protection is the
 * caller's: the matched step must advance the user's last accepted step by compare-and-set (S7),
 * so a code is accepted at most once and an older one never after a newer one.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { base32Encode } from './base32.ts';

export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_WINDOW_STEPS = 1;
/** RFC 4226 §4 R6: at least 128 bits, 160 recommended (the HMAC-SHA-1 block of authenticator apps). */
export const TOTP_SECRET_BYTES = 20;

export function generateTotpSecret(): Buffer {
  return randomBytes(TOTP_SECRET_BYTES);
}

/** RFC 6238 §4.2: T = floor((unix time − T0) / X), T0 = 0, X = 30. */
export function totpStep(epochSeconds: number): number {
  return Math.floor(epochSeconds / TOTP_PERIOD_SECONDS);
}

/** RFC 4226 §5.3: HMAC over the 8-byte big-endian counter, dynamic truncation, modulo 10^digits. */
export function hotp(secret: Uint8Array, counter: number, digits = TOTP_DIGITS): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(msg).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const binary = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** digits;
  return String(binary).padStart(digits, '0');
}

export function totpAt(secret: Uint8Array, epochSeconds: number): string {
  return hotp(secret, totpStep(epochSeconds));
}

const CODE = /^\d{6}$/;

/**
 * The step whose code `code` is (now, one before, or one after), or undefined. Every candidate is
 * computed and compared in constant time, so the time taken does not say which one matched.
 */
export function matchTotp(secret: Uint8Array, code: string, epochSeconds: number): number | undefined {
  const given = code.replace(/\s/g, '');
  if (!CODE.test(given)) return undefined;
  const now = totpStep(epochSeconds);
  let matched: number | undefined;
  for (let d = -TOTP_WINDOW_STEPS; d <= TOTP_WINDOW_STEPS; d++) {
    const step = now + d;
    if (step < 0) continue;
    if (timingSafeEqual(Buffer.from(hotp(secret, step)), Buffer.from(given)) && matched === undefined) matched = step;
  }
  return matched;
}

/**
 * The otpauth URI an authenticator app reads from the enrolment QR code (Key Uri Format:
 * `otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`).
 */
export function otpauthUri(secret: Uint8Array, account: string, issuer: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const query = new URLSearchParams({ secret: base32Encode(secret), issuer, algorithm: 'SHA1', digits: String(TOTP_DIGITS), period: String(TOTP_PERIOD_SECONDS) });
  return `otpauth://totp/${label}?${query.toString().replace(/\+/g, '%20')}`;
}
