/**
 * CSRF protection of the login forms (OWASP CSRF Prevention Cheat Sheet: signed double-submit
 * cookie, plus Fetch Metadata / Origin checks):
 *
 * - a random per-browser secret in an HttpOnly, Secure, SameSite=Strict cookie scoped to the mount;
 * - every form carries HMAC(key, secret ‖ scope), the scope being the interaction uid (or, for a
 *   page outside any interaction, its fixed name such as `account/password`, which no uid can be):
 *   a page of another origin can neither read the cookie nor compute the token, and a token is good
 *   for one interaction (or one page) only;
 * - a POST whose `Sec-Fetch-Site` is cross-site, or whose `Origin` is not the issuer's, is refused.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const CSRF_COOKIE = 'rampart-auth-csrf';

export interface Csrf {
  /** The browser's secret from its cookie, or a new one with the Set-Cookie value to send. */
  secret(headers: IncomingHttpHeaders): { value: string; setCookie?: string };
  /** `scope`: the interaction uid, or the fixed name of a page outside interactions. */
  token(secret: string, scope: string): string;
  /** True when the form's token, the cookie and the request's origin all agree. */
  verify(headers: IncomingHttpHeaders, scope: string, token: unknown): boolean;
}

export function readCookie(headers: IncomingHttpHeaders, name: string): string | undefined {
  const raw = headers.cookie;
  if (!raw) return undefined;
  for (const part of (Array.isArray(raw) ? raw.join(';') : raw).split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

export function createCsrf(key: Buffer | string, origin: string, path: string): Csrf {
  const token = (secret: string, uid: string) => createHmac('sha256', key).update(`${secret}\u0000${uid}`).digest('base64url');
  const valid = (v: string | undefined): v is string => v !== undefined && /^[A-Za-z0-9_-]{43}$/.test(v);
  return {
    secret(headers) {
      const existing = readCookie(headers, CSRF_COOKIE);
      if (valid(existing)) return { value: existing };
      const value = randomBytes(32).toString('base64url');
      return { value, setCookie: `${CSRF_COOKIE}=${value}; Path=${path}; Secure; HttpOnly; SameSite=Strict` };
    },
    token,
    verify(headers, uid, presented) {
      const site = headers['sec-fetch-site'];
      if (site !== undefined && site !== 'same-origin' && site !== 'none') return false;
      const o = headers.origin;
      if (o !== undefined && o !== origin) return false;
      const secret = readCookie(headers, CSRF_COOKIE);
      if (!valid(secret) || typeof presented !== 'string') return false;
      const a = Buffer.from(token(secret, uid));
      const b = Buffer.from(presented);
      return a.length === b.length && timingSafeEqual(a, b);
    },
  };
}
