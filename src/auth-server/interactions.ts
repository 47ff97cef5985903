/**
 * The interaction pages (OpenID Connect Core §3.1.2.3 "authenticate the end-user", §3.1.2.4
 * consent): password, then a TOTP code (or a recovery code), enrolment of an authenticator when
 * the user has none, a password change when an administrator set it, then consent.
 *
 * Rules (S6, S7): the same answer and the same work whether the user exists or not; failures are
 * counted per username + IP and per IP before the check runs (parallel guesses cannot overtake the
 * budget); a TOTP code works once; recovery codes count towards the same lockout; a login result
 * exists only once both factors passed in this interaction. Every POST carries the CSRF token.
 */
import type { ServerResponse } from 'node:http';
import { renderSVG } from 'uqr';
import type Provider from 'oidc-provider';
import type { Keyring } from '../secrets/keyring.ts';
import type { OidcStore } from '../store/types.ts';
import type { BuiltinRequest } from '../core/builtin.ts';
import { publishSecurityEvent } from '../observe/events.ts';
import type { LoginAccounts } from './accounts.ts';
import type { Csrf } from './csrf.ts';
import { field, parseForm, type Form } from './forms.ts';
import { loginKeys, type LoginLimiter } from './login-limiter.ts';
import { clearLoginState, readLoginState, writeLoginState, type LoginState } from './login-state.ts';
import { consentPage, enrolPage, loginPage, passwordPage, recoveryCodesPage, recoveryPage, totpPage, type FormContext } from './pages/interaction.ts';
import { errorPage } from './pages/provider-pages.ts';
import { ACR_MFA, ACR_RECOVERY } from './provider.ts';
import { generateTotpSecret, otpauthUri } from '../accounts/totp.ts';
import { base32Encode } from '../accounts/base32.ts';

export interface InteractionDeps {
  provider(): Provider;
  readonly store: OidcStore;
  readonly keyring: Keyring;
  readonly accounts: LoginAccounts;
  readonly limiter: LoginLimiter;
  readonly csrf: Csrf;
  readonly mountPath: string;
  readonly assets: string;
  /** Shown in the authenticator app next to the account. */
  readonly totpIssuer: string;
}

type Details = Awaited<ReturnType<Provider['interactionDetails']>>;

const WRONG_CREDENTIALS = 'Wrong username or password.';
const WRONG_CODE = 'That code is not valid.';
const epoch = () => Math.floor(Date.now() / 1000);

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  const buf = Buffer.from(body, 'utf8');
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'content-length': String(buf.length), 'cache-control': 'no-store', ...headers });
  res.end(buf);
}

function redirect(res: ServerResponse, location: string): void {
  res.writeHead(303, { location, 'content-length': '0', 'cache-control': 'no-store' });
  res.end();
}

export function createInteractions(deps: InteractionDeps) {
  const base = `${deps.mountPath}/interaction/`;
  const pageCtx = { assets: deps.assets };

  const fail = (res: ServerResponse, status: number, description: string) => send(res, status, errorPage(pageCtx, { error: status === 403 ? 'access_denied' : 'invalid_request', error_description: description }));

  function event(r: BuiltinRequest, action: string, reason: string, user?: string): void {
    publishSecurityEvent({
      'event.kind': 'event', 'event.category': ['authentication'], 'event.action': action, 'event.outcome': 'failure', 'event.reason': reason,
      'source.ip': r.ctx.clientIp, 'http.request.method': r.ctx.method, 'url.path': r.ctx.path, 'trace.id': r.ctx.traceId,
      ...(user ? { 'user.id': user } : {}),
    });
  }

  return async function handle(r: BuiltinRequest): Promise<void> {
    const res = r.res as ServerResponse;
    const rest = r.ctx.path.slice(base.length);
    const [uid = '', step = '', extra] = rest.split('/');
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(uid) || extra !== undefined) return fail(res, 404, 'This page does not exist.');
    let details: Details;
    try {
      details = await deps.provider().interactionDetails(r.req as never, res as never);
    } catch {
      return fail(res, 400, 'This sign-in request has expired or was opened in another browser. Start again from the application.');
    }
    if (details.uid !== uid) return fail(res, 400, 'This sign-in request does not belong to this browser. Start again from the application.');
    const client = await deps.provider().Client.find(String(details.params.client_id ?? ''));
    const secret = deps.csrf.secret(r.req.headers);
    const setCookie = secret.setCookie ? { 'set-cookie': secret.setCookie } : {};
    const fc: FormContext = { assets: deps.assets, action: `${base}${uid}`, csrf: deps.csrf.token(secret.value, uid), clientName: client?.clientName ?? client?.clientId ?? 'the application', passwordChange: `${deps.mountPath}/account/password` };
    const expiresAt = details.exp;
    const state = await readLoginState(deps.store, uid);
    const show = (status: number, body: string, headers: Record<string, string> = {}) => send(res, status, body, { ...setCookie, ...headers });

    if (r.ctx.method === 'GET' || r.ctx.method === 'HEAD') {
      if (step === '') return show(200, await currentPage(details, state, fc, uid, expiresAt));
      if (step === 'recovery' && state.passwordAt !== undefined) return show(200, recoveryPage(fc, {}));
      return redirect(res, fc.action);
    }
    if (r.ctx.method !== 'POST') return fail(res, 405, 'This page does not accept that method.');
    const body = await r.ctx.body();
    const form = parseForm(r.req.headers['content-type'], body);
    if (!form) return fail(res, 400, 'The form could not be read.');
    if (!deps.csrf.verify(r.req.headers, uid, form.get('csrf'))) {
      event(r, 'auth.csrf_rejected', 'CSRF token, cookie or origin mismatch');
      return fail(res, 403, 'The form expired or came from another site. Go back, reload the page and try again.');
    }
    switch (step) {
      case 'login':
        return login(r, res, details, form, fc, uid, expiresAt, show);
      case 'password':
        return changePassword(res, form, fc, state, show);
      case 'totp':
        return secondFactor(r, res, form, fc, uid, state, 'otp', show);
      case 'recovery':
        return secondFactor(r, res, form, fc, uid, state, 'recovery', show);
      case 'enrol':
        return enrol(res, form, fc, uid, state, expiresAt, show);
      case 'continue':
        if (state.userId && state.passwordAt !== undefined && state.secondFactor) return finishLogin(r, res, uid, state);
        return redirect(res, fc.action);
      case 'confirm':
        return consent(r, res, details, uid);
      case 'abort':
        await clearLoginState(deps.store, uid);
        return void (await deps.provider().interactionFinished(r.req as never, res as never, { error: 'access_denied', error_description: 'The user cancelled the sign-in.' }, { mergeWithLastSubmission: false }));
      default:
        return fail(res, 404, 'This page does not exist.');
    }
  };

  async function currentPage(details: Details, state: LoginState, fc: FormContext, uid: string, expiresAt: number): Promise<string> {
    if (details.prompt.name === 'consent') {
      const d = details.prompt.details as { missingOIDCScope?: string[]; missingResourceScopes?: Record<string, string[]> };
      const resourceScopes = Object.values(d.missingResourceScopes ?? {}).flat();
      // oidc-provider lists a resource's scopes among the OIDC ones too: each is shown once.
      return consentPage(fc, { scopes: [...new Set([...(d.missingOIDCScope ?? []), ...resourceScopes])], resources: Object.keys(d.missingResourceScopes ?? {}) });
    }
    if (!state.userId || state.passwordAt === undefined) return loginPage(fc, {});
    const user = await deps.accounts.get(state.userId);
    if (!user || user.disabled) {
      await clearLoginState(deps.store, uid);
      return loginPage(fc, {});
    }
    if (user.mustChangePassword) return passwordPage(fc, {});
    if (user.totpSecretSealed) return totpPage(fc, {});
    return enrolmentPage(fc, uid, state, user.id, user.username, expiresAt, undefined);
  }

  async function enrolmentPage(fc: FormContext, uid: string, state: LoginState, userId: string, username: string, expiresAt: number, error: string | undefined): Promise<string> {
    let sealed = state.enrolSealed;
    if (!sealed) {
      sealed = deps.keyring.seal('totp-secrets', generateTotpSecret(), userId);
      await writeLoginState(deps.store, uid, { ...state, enrolSealed: sealed }, expiresAt);
    }
    const secret = deps.keyring.open('totp-secrets', sealed, userId);
    const uri = otpauthUri(secret, username, deps.totpIssuer);
    return enrolPage(fc, { qrSvg: renderSVG(uri, { border: 2 }), secret: base32Encode(secret), ...(error ? { error } : {}) });
  }

  async function login(r: BuiltinRequest, res: ServerResponse, details: Details, form: Form, fc: FormContext, uid: string, expiresAt: number, show: (s: number, b: string, h?: Record<string, string>) => void): Promise<void> {
    if (details.prompt.name !== 'login') return redirect(res, fc.action);
    const username = field(form, 'username', 256).normalize('NFKC').toLowerCase();
    const password = field(form, 'password', 1024);
    const keys = loginKeys(username, r.ctx.clientIp);
    const gate = await deps.limiter.begin(keys, epoch());
    if (!gate.allowed) {
      event(r, 'auth.login_throttled', 'too many failed attempts', username);
      // The same answer for every username (S6): nothing here says whether it exists.
      return show(429, loginPage(fc, { error: `Too many attempts. Try again in ${gate.retryAfterSeconds} seconds.`, username }), { 'retry-after': String(gate.retryAfterSeconds) });
    }
    const checked = await deps.accounts.verifyPassword(username, password);
    if (!checked.ok) {
      event(r, 'auth.login_failed', 'wrong username or password', username);
      return show(200, loginPage(fc, { error: WRONG_CREDENTIALS, username }));
    }
    await writeLoginState(deps.store, uid, { userId: checked.user.id, username: checked.user.username, passwordAt: epoch() }, expiresAt);
    return redirect(res, fc.action);
  }

  async function changePassword(res: ServerResponse, form: Form, fc: FormContext, state: LoginState, show: (s: number, b: string) => void): Promise<void> {
    const user = state.userId && state.passwordAt !== undefined ? await deps.accounts.get(state.userId) : undefined;
    if (!user || !user.mustChangePassword) return redirect(res, fc.action);
    const password = field(form, 'password', 1024);
    if (password !== field(form, 'confirm', 1024)) return show(200, passwordPage(fc, { error: 'The two passwords differ.' }));
    const changed = await deps.accounts.changePassword(user, password);
    if (!changed.ok) return show(200, passwordPage(fc, { error: changed.reason }));
    return redirect(res, fc.action);
  }

  async function secondFactor(r: BuiltinRequest, res: ServerResponse, form: Form, fc: FormContext, uid: string, state: LoginState, kind: 'otp' | 'recovery', show: (s: number, b: string, h?: Record<string, string>) => void): Promise<void> {
    const user = state.userId && state.passwordAt !== undefined ? await deps.accounts.get(state.userId) : undefined;
    if (!user || user.disabled || !user.totpSecretSealed || user.mustChangePassword) return redirect(res, fc.action);
    const page = kind === 'otp' ? totpPage : recoveryPage;
    const keys = loginKeys(user.username, r.ctx.clientIp);
    const gate = await deps.limiter.begin(keys, epoch());
    if (!gate.allowed) {
      event(r, 'auth.mfa_throttled', 'too many failed attempts', user.id);
      return show(429, page(fc, { error: `Too many attempts. Try again in ${gate.retryAfterSeconds} seconds.` }), { 'retry-after': String(gate.retryAfterSeconds) });
    }
    const code = field(form, 'code', 64).trim();
    const ok = kind === 'otp' ? await deps.accounts.verifyTotp(user, code.replace(/\s/g, ''), epoch()) : await deps.accounts.useRecoveryCode(user, code);
    if (!ok) {
      event(r, kind === 'otp' ? 'auth.totp_failed' : 'auth.recovery_code_failed', 'wrong, reused or expired code', user.id);
      return show(200, page(fc, { error: WRONG_CODE }));
    }
    await deps.limiter.succeed(keys, epoch());
    return finishLogin(r, res, uid, { ...state, secondFactor: kind });
  }

  async function enrol(res: ServerResponse, form: Form, fc: FormContext, uid: string, state: LoginState, expiresAt: number, show: (s: number, b: string) => void): Promise<void> {
    const user = state.userId && state.passwordAt !== undefined ? await deps.accounts.get(state.userId) : undefined;
    if (!user || user.totpSecretSealed || !state.enrolSealed) return redirect(res, fc.action);
    const secret = deps.keyring.open('totp-secrets', state.enrolSealed, user.id);
    const done = await deps.accounts.enrolTotp(user, secret, field(form, 'code', 16).replace(/\s/g, ''), epoch());
    if (!done.ok) return show(200, await enrolmentPage(fc, uid, state, user.id, user.username, expiresAt, WRONG_CODE));
    // The new authenticator just produced a valid code: the second factor passed.
    await writeLoginState(deps.store, uid, { userId: user.id, username: user.username, passwordAt: state.passwordAt ?? epoch(), secondFactor: 'otp' }, expiresAt);
    return show(200, recoveryCodesPage(fc, done.recoveryCodes));
  }

  async function finishLogin(r: BuiltinRequest, res: ServerResponse, uid: string, state: LoginState): Promise<void> {
    if (!state.userId || state.passwordAt === undefined || !state.secondFactor) throw new Error('login finished without both factors');
    await deps.limiter.succeed(loginKeys(state.username ?? '', r.ctx.clientIp), epoch());
    await clearLoginState(deps.store, uid);
    const mfa = state.secondFactor === 'otp';
    // RFC 8176 §2: pwd + otp; a recovery code is another factor but not an OTP device (S7).
    const login = { accountId: state.userId, amr: mfa ? ['pwd', 'otp'] : ['pwd', 'mfa'], acr: mfa ? ACR_MFA : ACR_RECOVERY, remember: false, ts: state.passwordAt };
    await deps.provider().interactionFinished(r.req as never, res as never, { login }, { mergeWithLastSubmission: false });
  }

  async function consent(r: BuiltinRequest, res: ServerResponse, details: Details, uid: string): Promise<void> {
    if (details.prompt.name !== 'consent' || !details.session?.accountId) return redirect(res, `${base}${uid}`);
    const provider = deps.provider();
    const d = details.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
    const existing = details.grantId ? await provider.Grant.find(details.grantId) : undefined;
    const grant = existing ?? new provider.Grant({ accountId: details.session.accountId, clientId: String(details.params.client_id) });
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    for (const [indicator, scopes] of Object.entries(d.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
    const grantId = await grant.save();
    await provider.interactionFinished(r.req as never, res as never, { consent: existing ? {} : { grantId } }, { mergeWithLastSubmission: true });
  }
}
