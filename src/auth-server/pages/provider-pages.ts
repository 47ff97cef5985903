/**
 * The pages oidc-provider itself renders (device flow, logout, errors), replaced by Rampart's
 * templates so that every page is under the same CSP: no inline script, no inline style, no
 * remote font. Error pages never show the provider's internal detail (only the OAuth error code
 * and its public description).
 */
import { html, page, trusted } from './html.ts';

export interface ProviderPageContext {
  readonly assets: string;
}

export function errorPage(c: ProviderPageContext, out: { error?: string; error_description?: string }): string {
  return page({
    title: 'Sign-in error',
    assets: c.assets,
    body: html`<h1>Something went wrong</h1>
<p>${out.error_description ?? 'The request could not be completed.'}</p>
<p class="muted"><code>${out.error ?? 'server_error'}</code></p>`,
  });
}

/** The action and CSRF token of a form oidc-provider built (its markup is not reused: it has inline handlers). */
function providerForm(form: string): { action: string; xsrf: string } {
  return { action: /action="([^"]*)"/.exec(form)?.[1] ?? '', xsrf: /name="xsrf" value="([^"]*)"/.exec(form)?.[1] ?? '' };
}

/** `form` is the provider's own form markup; only its action and token are taken from it. */
export function deviceInputPage(c: ProviderPageContext, form: string, error: 'code' | 'aborted' | 'other' | undefined): string {
  const f = providerForm(form);
  const message = error === 'code' ? 'That code is not valid. Check it and try again.' : error === 'aborted' ? 'The sign-in request was cancelled.' : error ? 'The request could not be completed.' : undefined;
  return page({
    title: 'Connect a device',
    assets: c.assets,
    body: html`<h1>Connect a device</h1>
<p class="muted">Enter the code shown on your device.</p>
${message ? html`<p class="error" role="alert">${message}</p>` : ''}
<form id="op.deviceInputForm" novalidate method="post" action="${trusted(f.action)}">
<input type="hidden" name="xsrf" value="${trusted(f.xsrf)}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32" autofocus>
<button type="submit">Continue</button>
</form>`,
  });
}

export function deviceConfirmPage(c: ProviderPageContext, form: string, clientName: string, userCode: string): string {
  return page({
    title: 'Confirm the device',
    assets: c.assets,
    body: html`<h1>Confirm the device</h1>
<p><strong>${clientName}</strong> asks to sign in. Check that your device shows this code:</p>
<p class="usercode"><code>${userCode}</code></p>
<p class="muted">If you did not start this, or the code differs, cancel.</p>
${trusted(form)}
<button type="submit" form="op.deviceConfirmForm">Continue</button>
<button type="submit" form="op.deviceConfirmForm" name="abort" value="yes" class="link">Cancel</button>`,
  });
}

export function deviceSuccessPage(c: ProviderPageContext, clientName: string): string {
  return page({
    title: 'Device connected',
    assets: c.assets,
    body: html`<h1>Device connected</h1><p><strong>${clientName}</strong> is signed in. You can close this window.</p>`,
  });
}

export function logoutPage(c: ProviderPageContext, form: string, host: string): string {
  return page({
    title: 'Sign out',
    assets: c.assets,
    body: html`<h1>Sign out of ${host}?</h1>
${trusted(form)}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Yes, sign me out</button>
<button type="submit" form="op.logoutForm" class="link">No, stay signed in</button>`,
  });
}

export function logoutSuccessPage(c: ProviderPageContext): string {
  return page({ title: 'Signed out', assets: c.assets, body: html`<h1>Signed out</h1><p>You are signed out. You can close this window.</p>` });
}
