/** The self-service password change page (under the mount, not tied to an OIDC interaction). */
import { html, hidden, errorNote, page } from './html.ts';

export interface AccountPageContext {
  readonly assets: string;
  /** Where the form posts, e.g. /auth/account/password. */
  readonly action: string;
  readonly csrf: string;
}

export function passwordChangePage(c: AccountPageContext, o: { error?: string; username?: string }): string {
  return page({
    title: 'Change your password',
    assets: c.assets,
    body: html`<h1>Change your password</h1>
<p class="muted">Every session and token of your account ends: sign in again everywhere with the new password.</p>
${errorNote(o.error)}
<form method="post" action="${c.action}" autocomplete="off">
${hidden('csrf', c.csrf)}
<label for="username">Username</label>
<input id="username" name="username" autocomplete="username" required maxlength="256" value="${o.username ?? ''}" autofocus>
<label for="current">Current password</label>
<input id="current" name="current" type="password" autocomplete="current-password" required maxlength="1024">
<label for="code">Code from your authenticator app</label>
<input id="code" name="code" inputmode="numeric" pattern="[0-9]{6}" maxlength="6" autocomplete="one-time-code">
<p class="muted">Required once an authenticator app is set up. Lost it? An administrator can reset it.</p>
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="8" maxlength="128">
<label for="confirm">Repeat the new password</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" required minlength="8" maxlength="128">
<button type="submit">Change password</button>
</form>`,
  });
}

export function passwordChangedPage(c: { readonly assets: string }): string {
  return page({
    title: 'Password changed',
    assets: c.assets,
    body: html`<h1>Password changed</h1>
<p>Your password was changed. You are signed out everywhere, this browser included: return to your application and sign in with the new password.</p>`,
  });
}
