/**
 * Device authorization grant (RFC 8628) end to end, and RP-initiated logout (end-session) revoking
 * the grant; the provider's own pages under the login pages' CSP.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { Browser, REDIRECT, WEB_CLIENT, addUser, browserLogin, hiddenInput, pkce, startAuthGateway, tokenRequest, totpNow, type AuthGateway } from '../../helpers/auth.ts';
import { createKeyring } from '../../../src/secrets/keyring.ts';
import { loadMasterKey } from '../../../src/secrets/master-key.ts';

let g: AuthGateway;
const secrets = new Map<string, Buffer>();
before(async () => {
  g = await startAuthGateway();
  const keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
  for (const u of ['dora', 'lou']) {
    const s = randomBytes(20);
    secrets.set(u, s);
    await addUser(g.store, u, 'correct horse battery', { totpSecret: s, keyring });
  }
});
after(() => g.close());

/** The form of the provider's page with the given id, as fields (hidden inputs included). */
function providerForm(page: string, id: string): { action: string; fields: Record<string, string> } {
  const m = new RegExp(`<form id="${id.replace('.', '\\.')}"[^>]*action="([^"]+)">([\\s\\S]*?)</form>`).exec(page);
  if (!m) throw new Error(`no form ${id} in ${page.slice(0, 400)}`);
  const fields: Record<string, string> = {};
  for (const f of (m[2] as string).matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"\/?>/g)) fields[f[1] as string] = (f[2] as string).replaceAll('&amp;', '&');
  return { action: m[1] as string, fields };
}

test('device flow: the CLI gets a user code, the user approves it in a browser after password + TOTP, the CLI polls a token', async () => {
  const b = new Browser(await g.ca(), g.base);
  const start = await b.fetch(`${g.issuer}/device/auth`, { form: { client_id: 'cli', scope: 'openid offline_access orders:read' }, headers: { origin: '' } });
  assert.equal(start.status, 200, start.text);
  const d = JSON.parse(start.text);
  assert.equal(d.verification_uri, `${g.issuer}/device`);
  assert.match(d.user_code, /^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$/);
  const pending = await tokenRequest(b, g.issuer, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code, client_id: 'cli' });
  assert.equal(pending.json.error, 'authorization_pending');

  const input = await b.fetch(d.verification_uri);
  assert.equal(input.status, 200);
  assert.match(String(input.headers['content-security-policy']), /script-src 'self'/);
  assert.doesNotMatch(input.text, /<script>|<style>|fonts\.googleapis/);
  const f1 = providerForm(input.text, 'op.deviceInputForm');
  const wrongCode = await b.fetch(new URL(f1.action, g.base).href, { form: { ...f1.fields, user_code: 'BBBB-BBBB' } });
  assert.match(wrongCode.text, /not valid/);
  const f1b = providerForm(wrongCode.text, 'op.deviceInputForm');
  const confirm = await b.fetch(new URL(f1b.action, g.base).href, { form: { ...f1b.fields, user_code: d.user_code } });
  assert.match(confirm.text, /Confirm the device/);
  assert.match(confirm.text, new RegExp(d.user_code));
  const f2 = providerForm(confirm.text, 'op.deviceConfirmForm');
  let r = await b.follow(new URL(f2.action, g.base).href, { form: f2.fields });
  assert.match(r.text, /name="password"/);
  r = await b.follow(new URL(/action="([^"]+\/login)"/.exec(r.text)?.[1] ?? '', g.base).href, { form: { csrf: hiddenInput(r.text, 'csrf'), username: 'dora', password: 'correct horse battery' } });
  r = await b.follow(new URL(/action="([^"]+\/totp)"/.exec(r.text)?.[1] ?? '', g.base).href, { form: { csrf: hiddenInput(r.text, 'csrf'), code: totpNow(secrets.get('dora') as Buffer) } });
  if (r.text.includes('Allow access')) r = await b.follow(new URL(/action="([^"]+\/confirm)"/.exec(r.text)?.[1] ?? '', g.base).href, { form: { csrf: hiddenInput(r.text, 'csrf') } });
  assert.match(r.text, /Device connected/);

  const t = await tokenRequest(b, g.issuer, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code, client_id: 'cli' });
  assert.equal(t.status, 200, JSON.stringify(t.json));
  const at = decodeJwt(t.json.access_token);
  assert.equal(at.sub, 'dora');
  assert.equal(at.client_id, 'cli');
  assert.deepEqual(at.amr, ['pwd', 'otp']);
  assert.ok(t.json.refresh_token);
  const again = await tokenRequest(b, g.issuer, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: d.device_code, client_id: 'cli' });
  assert.equal(again.status, 400, 'a device code is redeemed once');
  assert.equal(again.json.error, 'invalid_grant');
  await b.close();
});

test('end-session: logging out shows a confirmation page, then revokes the grant (deny-listed) and returns to the client', async () => {
  const b = new Browser(await g.ca(), g.base);
  const p = pkce();
  const { code } = await browserLogin(b, g.issuer, { username: 'lou', password: 'correct horse battery', totp: () => totpNow(secrets.get('lou') as Buffer), pkceChallenge: p.challenge, scope: 'openid orders:read' });
  const t = await tokenRequest(b, g.issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: WEB_CLIENT, code_verifier: p.verifier });
  const gid = decodeJwt(t.json.access_token).grant_id as string;
  const q = new URLSearchParams({ id_token_hint: t.json.id_token, post_logout_redirect_uri: 'https://app.test.example/bye', state: 'bye-1' });
  const page = await b.fetch(`${g.issuer}/session/end?${q}`);
  assert.equal(page.status, 200);
  assert.match(page.text, /Sign out of/);
  assert.match(String(page.headers['content-security-policy']), /frame-ancestors 'none'/);
  const f = providerForm(page.text, 'op.logoutForm');
  const done = await b.fetch(new URL(f.action, g.base).href, { form: { ...f.fields, logout: 'yes' } });
  assert.equal(done.status, 303);
  const to = new URL(done.location ?? '');
  assert.equal(to.origin + to.pathname, 'https://app.test.example/bye');
  assert.equal(to.searchParams.get('state'), 'bye-1');
  assert.ok(await g.store.denyList.find('grant', gid), 'logging out withdraws the access tokens of the session\'s grants');
  // An unregistered post-logout URI is never redirected to.
  const evil = await b.fetch(`${g.issuer}/session/end?${new URLSearchParams({ post_logout_redirect_uri: 'https://evil.example/', client_id: WEB_CLIENT })}`);
  assert.equal(evil.status, 400);
  assert.equal(evil.location, undefined);
  await b.close();
});
