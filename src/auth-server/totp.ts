/**
 * TOTP (RFC 6238) over HOTP (RFC 4226): HMAC-SHA1, 6 digits, 30-second steps, ±1 step of clock
 * drift. Replay protection is the caller's: the step a code matched is returned so that the
 * store can advance the user's last accepted step by compare-and-set (S7).
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOTP_DIGITS = 6;
export const TOTP_PERIOD = 30;
/** RFC 6238 §5.2: at most one step backward and forward is recommended for network delay. */
export const TOTP_WINDOW = 1;
const B32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4226 §5.3: dynamic truncation of HMAC-SHA1(K, C). */
export function hotp(secret: Uint8Array, counter: number): string {
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(counter));
  const mac = createHmac('sha1', secret).update(msg).digest();
  const offset = (mac[mac.length - 1] as number) & 0x0f;
  const bin = (mac.readUInt32BE(offset) & 0x7fffffff) % 10 ** TOTP_DIGITS;
  return bin.toString().padStart(TOTP_DIGITS, '0');
}

export function stepAt(epochSeconds: number): number {
  return Math.floor(epochSeconds / TOTP_PERIOD);
}

/** The matching step within ±TOTP_WINDOW, newest first; undefined when none matches. */
export function matchTotp(secret: Uint8Array, code: string, epochSeconds: number): number | undefined {
  if (!/^\d{6}$/.test(code)) return undefined;
  const now = stepAt(epochSeconds);
  let found: number | undefined;
  // Every candidate is computed and compared (no early exit) so the work does not depend on which matched.
  for (let s = now + TOTP_WINDOW; s >= now - TOTP_WINDOW; s--) {
    if (timingSafeEqual(Buffer.from(hotp(secret, s)), Buffer.from(code)) && found === undefined) found = s;
  }
  return found;
}

/** 160-bit secrets (RFC 4226 §4 R6 recommends it). */
export function newTotpSecret(): Buffer {
  return randomBytes(20);
}

/** RFC 4648 §6 base32, unpadded (what authenticator apps expect in otpauth URIs). */
export function base32(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

export function fromBase32(text: string): Buffer {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  const out: number[] = [];
  for (const c of clean) {
    const i = B32.indexOf(c);
    if (i === -1) throw new Error('not base32');
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/** The Key Uri Format authenticator apps read (otpauth://totp/ISSUER:ACCOUNT?secret=…). */
export function otpauthUri(issuer: string, account: string, secret: Uint8Array): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  const q = new URLSearchParams({ secret: base32(secret), issuer, algorithm: 'SHA1', digits: String(TOTP_DIGITS), period: String(TOTP_PERIOD) });
  return `otpauth://totp/${label}?${q.toString()}`;
}
