/** The login, second-factor, enrolment, password-change and consent pages of an interaction. */
import { html, hidden, errorNote, page, trusted, type Html } from './html.ts';

export interface FormContext {
  readonly assets: string;
  /** The interaction's base path, e.g. /auth/interaction/<uid>. */
  readonly action: string;
  readonly csrf: string;
  readonly clientName: string;
  /** The self-service password change page, e.g. /auth/account/password. */
  readonly passwordChange: string;
}

function form(c: FormContext, step: string, fields: Html, submit: string): Html {
  return html`<form method="post" action="${c.action}/${step}" autocomplete="off">
${hidden('csrf', c.csrf)}
${fields}
<button type="submit">${submit}</button>
</form>`;
}

function abort(c: FormContext): Html {
  return html`<form method="post" action="${c.action}/abort" class="secondary">${hidden('csrf', c.csrf)}<button type="submit" class="link">Cancel</button></form>`;
}

export function loginPage(c: FormContext, o: { error?: string; username?: string }): string {
  return page({
    title: 'Sign in',
    assets: c.assets,
    body: html`<h1>Sign in</h1>
<p class="muted">to continue to <strong>${c.clientName}</strong></p>
${errorNote(o.error)}
${form(c, 'login', html`<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="256" value="${o.username ?? ''}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">`, 'Continue')}
<p class="muted"><a href="${c.passwordChange}">Change password</a></p>
${abort(c)}`,
  });
}

export function totpPage(c: FormContext, o: { error?: string }): string {
  return page({
    title: 'Verification code',
    assets: c.assets,
    body: html`<h1>Verification code</h1>
<p class="muted">Enter the 6-digit code from your authenticator app.</p>
${errorNote(o.error)}
${form(c, 'totp', html`<label for="code">Code</label>
<input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required autofocus>`, 'Verify')}
<p class="muted"><a href="${c.action}/recovery">Use a recovery code instead</a></p>
${abort(c)}`,
  });
}

export function recoveryPage(c: FormContext, o: { error?: string }): string {
  return page({
    title: 'Recovery code',
    assets: c.assets,
    body: html`<h1>Recovery code</h1>
<p class="muted">Each recovery code works once.</p>
${errorNote(o.error)}
${form(c, 'recovery', html`<label for="code">Recovery code</label>
<input id="code" name="code" maxlength="64" autocomplete="off" required autofocus>`, 'Verify')}
<p class="muted"><a href="${c.action}">Use the authenticator app</a></p>
${abort(c)}`,
  });
}

export function enrolPage(c: FormContext, o: { error?: string; qrSvg: string; secret: string }): string {
  // The QR code is an SVG built server-side from the otpauth URI (no script, no remote image).
  return page({
    title: 'Set up two-step verification',
    assets: c.assets,
    body: html`<h1>Set up two-step verification</h1>
<p class="muted">Scan this code with an authenticator app, then enter the 6-digit code it shows.</p>
<div class="qr">${trusted(o.qrSvg)}</div>
<p class="muted">Or type the key: <code class="secret">${o.secret.match(/.{1,4}/g)?.join(' ') ?? o.secret}</code></p>
${errorNote(o.error)}
${form(c, 'enrol', html`<label for="code">Code</label>
<input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code" required autofocus>`, 'Confirm')}
${abort(c)}`,
  });
}

export function recoveryCodesPage(c: FormContext, codes: readonly string[]): string {
  return page({
    title: 'Recovery codes',
    assets: c.assets,
    body: html`<h1>Save your recovery codes</h1>
<p class="muted">If you lose your authenticator, each of these codes signs you in once. They are shown only now.</p>
<ul class="codes">${codes.map((code) => html`<li><code>${code}</code></li>`)}</ul>
${form(c, 'continue', html``, 'I have saved them')}`,
  });
}

export function passwordPage(c: FormContext, o: { error?: string }): string {
  return page({
    title: 'Choose a new password',
    assets: c.assets,
    body: html`<h1>Choose a new password</h1>
<p class="muted">Your password was set by an administrator: choose your own (8 to 128 characters).</p>
${errorNote(o.error)}
${form(c, 'password', html`<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="128" autofocus>
<label for="confirm">Repeat it</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength="8" maxlength="128">`, 'Save')}
${abort(c)}`,
  });
}

export function consentPage(c: FormContext, o: { scopes: readonly string[]; resources: readonly string[] }): string {
  return page({
    title: 'Allow access',
    assets: c.assets,
    body: html`<h1>Allow access?</h1>
<p><strong>${c.clientName}</strong> asks to act on your behalf with:</p>
<ul class="scopes">${o.scopes.map((s) => html`<li><code>${s}</code></li>`)}</ul>
${o.resources.length ? html`<p class="muted">at ${o.resources.map((r, i) => html`${i ? ', ' : ''}<code>${r}</code>`)}</p>` : ''}
${form(c, 'confirm', html``, 'Allow')}
${abort(c)}`,
  });
}
