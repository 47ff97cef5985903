/**
 * Self-service password change (S7 "password change and reset flows exist"): `GET/POST
 * <mount>/account/password`, outside any OIDC interaction. The form asks for the username, the
 * current password, a TOTP code when the user has an authenticator (recovery codes are not taken:
 * they exist to get back in, not to take an account over), and the new password twice.
 *
 * The rules are the login's (interactions.ts):
 * - the same CSP, CSRF scheme (the token bound to this page instead of an interaction uid) and
 *   `no-store`;
 * - the attempt is counted before the check in the login limiter, under the same per username + IP
 *   and per IP keys (S6): guesses here and on the login form share one budget, 429 + Retry-After,
 *   one answer whether the user exists or not;
 * - one message for a wrong username, password or code, and the same work (the account service
 *   verifies a dummy hash for unknown users), so the form tells nothing more than the login does —
 *   not even whether the password was right when the code was wrong;
 * - a TOTP code works once (compare-and-set of the last step), here and at the login alike.
 *
 * What does not depend on the account (the two new passwords agree, the S7 policy, new ≠ current)
 * is checked first: a typo costs neither an attempt nor a TOTP code, and reveals nothing.
 * On success every session, grant and token of the user ends (sign-out.ts) and
 * `auth.password_changed` is published; no password or code is ever logged.
 */
import type { ServerResponse } from 'node:http';
import type { BuiltinRequest } from '../core/builtin.ts';
import { publishSecurityEvent, type SecurityEvent } from '../observe/events.ts';
import { describeProblems } from '../accounts/accounts.ts';
import { normalizePassword } from '../accounts/password-hash.ts';
import { checkPassword } from '../accounts/password-policy.ts';
import type { LoginAccounts } from './accounts.ts';
import type { Csrf } from './csrf.ts';
import { field, parseForm } from './forms.ts';
import { loginKeys, type LoginLimiter } from './login-limiter.ts';
import { passwordChangedPage, passwordChangePage, type AccountPageContext } from './pages/account.ts';
import { errorPage } from './pages/provider-pages.ts';

/** What the CSRF token of this page is bound to (an interaction uid never contains `/`). */
export const PASSWORD_CSRF_SCOPE = 'account/password';

const WRONG = 'Wrong username, password or code.';

export interface AccountPasswordDeps {
  readonly accounts: LoginAccounts;
  readonly limiter: LoginLimiter;
  readonly csrf: Csrf;
  /** The page's path, e.g. /auth/account/password. */
  readonly path: string;
  readonly assets: string;
  /** Ends every session, grant and token of the user (sign-out.ts). */
  readonly signOut: (userId: string, reason: string) => Promise<{ artefacts: number; grants: number }>;
}

const epoch = () => Math.floor(Date.now() / 1000);

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(buf.length), 'cache-control': 'no-store', ...headers });
  res.end(buf);
}

export function createAccountPassword(deps: AccountPasswordDeps) {
  const assets = { assets: deps.assets };

  function event(r: BuiltinRequest, action: string, outcome: 'success' | 'failure', reason: string, user: string, category: SecurityEvent['event.category'] = ['authentication']): void {
    publishSecurityEvent({
      'event.kind': 'event', 'event.category': category, 'event.action': action, 'event.outcome': outcome, 'event.reason': reason,
      'source.ip': r.ctx.clientIp, 'http.request.method': r.ctx.method, 'url.path': r.ctx.path, 'trace.id': r.ctx.traceId,
      ...(user ? { 'user.id': user } : {}),
    });
  }

  return async function handle(r: BuiltinRequest): Promise<void> {
    const res = r.res as ServerResponse;
    if (r.ctx.path !== deps.path) return send(res, 404, errorPage(assets, { error: 'invalid_request', error_description: 'This page does not exist.' }));
    const secret = deps.csrf.secret(r.req.headers);
    const pc: AccountPageContext = { assets: deps.assets, action: deps.path, csrf: deps.csrf.token(secret.value, PASSWORD_CSRF_SCOPE) };
    const setCookie: Record<string, string> = secret.setCookie ? { 'set-cookie': secret.setCookie } : {};
    const show = (status: number, o: { error?: string; username?: string }, headers: Record<string, string> = {}) => send(res, status, passwordChangePage(pc, o), { ...setCookie, ...headers });

    if (r.ctx.method === 'GET' || r.ctx.method === 'HEAD') return show(200, {});
    if (r.ctx.method !== 'POST') return send(res, 405, errorPage(assets, { error: 'invalid_request', error_description: 'This page does not accept that method.' }), { allow: 'GET, HEAD, POST' });
    const form = parseForm(r.req.headers['content-type'], await r.ctx.body());
    if (!form) return send(res, 400, errorPage(assets, { error: 'invalid_request', error_description: 'The form could not be read.' }));
    if (!deps.csrf.verify(r.req.headers, PASSWORD_CSRF_SCOPE, form.get('csrf'))) {
      event(r, 'auth.csrf_rejected', 'failure', 'CSRF token, cookie or origin mismatch', '');
      return send(res, 403, errorPage(assets, { error: 'access_denied', error_description: 'The form expired or came from another site. Go back, reload the page and try again.' }));
    }

    const username = field(form, 'username', 256).normalize('NFKC').toLowerCase();
    const current = field(form, 'current', 1024);
    const password = field(form, 'password', 1024);
    // Nothing below depends on the account: the same answer for every username.
    if (password !== field(form, 'confirm', 1024)) return show(200, { error: 'The two new passwords differ.', username });
    const problems = checkPassword(password, { username });
    if (problems.length) return show(200, { error: describeProblems(problems), username });
    if (normalizePassword(password) === normalizePassword(current)) return show(200, { error: 'Choose a new password different from the current one.', username });

    const keys = loginKeys(username, r.ctx.clientIp);
    const gate = await deps.limiter.begin(keys, epoch());
    if (!gate.allowed) {
      event(r, 'auth.password_change_throttled', 'failure', 'too many failed attempts', username);
      return show(429, { error: `Too many attempts. Try again in ${gate.retryAfterSeconds} seconds.`, username }, { 'retry-after': String(gate.retryAfterSeconds) });
    }
    const checked = await deps.accounts.verifyPassword(username, current);
    if (!checked.ok) {
      event(r, 'auth.password_change_failed', 'failure', 'wrong username or password', username);
      return show(200, { error: WRONG, username });
    }
    const user = checked.user;
    // RFC 6238 with the login's replay protection; required once an authenticator is enrolled.
    if (user.totpSecretSealed && !(await deps.accounts.verifyTotp(user, field(form, 'code', 64).replace(/\s/g, ''), epoch()))) {
      event(r, 'auth.password_change_failed', 'failure', 'wrong, reused or missing code', user.id);
      return show(200, { error: WRONG, username });
    }
    await deps.limiter.succeed(keys, epoch());
    const changed = await deps.accounts.changePassword(user, password);
    if (!changed.ok) return show(200, { error: changed.reason, username });
    const ended = await deps.signOut(user.id, 'password changed');
    event(r, 'auth.password_changed', 'success', `password changed by the user; ${ended.grants} grant(s) and ${ended.artefacts} session artefact(s) revoked`, user.id, ['iam', 'authentication']);
    return send(res, 200, passwordChangedPage(assets), setCookie);
  };
}
