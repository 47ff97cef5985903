/**
 * Self-service password change (issue 3, S7 "password change and reset flows exist"), black-box
 * through the real gateway over HTTPS: the page's headers, the change itself signing the user out
 * everywhere (sessions, refresh tokens, access tokens at a protected route), and the page under
 * attack — wrong password or code, TOTP replay, CSRF, enumeration, the lockout it shares with the
 * login form (S6), the S7 policy on the new password.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { Browser, REDIRECT, WEB_CLIENT, addUser, authorizeUrl, browserLogin, formAction, hiddenInput, pkce, startAuthGateway, tokenRequest, totpNow, type AuthGateway, type HttpResult } from '../../helpers/auth.ts';
import { startEcho, type EchoServer } from '../../helpers/upstream.ts';
import { createKeyring, type Keyring } from '../../../src/secrets/keyring.ts';
import { loadMasterKey } from '../../../src/secrets/master-key.ts';

let g: AuthGateway;
let echo: EchoServer;
let keyring: Keyring;
const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'a brand new pass phrase';

before(async () => {
  echo = await startEcho();
  // Each test is its own client IP behind a trusted proxy on loopback (S5), so budgets do not mix.
  g = await startAuthGateway({
    authServer: '  login: { maxFailures: 3, windowSeconds: 900, baseDelaySeconds: 60, maxDelaySeconds: 600 }',
    extra: `
trustedProxies: [127.0.0.1]
authentication:
  denyList: { pollSeconds: 1 }
upstreams:
  - { id: echo, targets: [{ url: ${echo.url} }], retries: { attempts: 0 } }
routes:
  - { id: api, path: /api/echo, upstream: echo, stripPrefix: /api }
`,
  });
  keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
});
after(async () => {
  await g?.close();
  await echo?.close();
});

let clients = 0;
async function browser(): Promise<Browser> {
  clients += 1;
  return new Browser(await g.ca(), g.base, { 'x-forwarded-for': `203.0.113.${clients}` });
}

let n = 0;
async function user(o: { totp?: boolean } = {}): Promise<{ username: string; secret: Buffer }> {
  n += 1;
  const username = `pw${n}`;
  const secret = randomBytes(20);
  await addUser(g.store, username, PASSWORD, o.totp === false ? {} : { totpSecret: secret, keyring });
  return { username, secret };
}

const pagePath = () => `${g.issuer}/account/password`;

async function changePage(b: Browser): Promise<HttpResult & { url: string }> {
  const r = await b.follow(pagePath());
  assert.equal(r.status, 200);
  assert.match(r.text, /name="current"/);
  return r;
}

/** Fills in the form of a freshly loaded page (new === confirm unless given). */
async function change(b: Browser, f: { username: string; current: string; code?: string; password?: string; confirm?: string }, headers: Record<string, string> = {}): Promise<HttpResult> {
  const page = await changePage(b);
  const password = f.password ?? NEW_PASSWORD;
  return b.fetch(formAction(page), { form: { csrf: hiddenInput(page.text, 'csrf'), username: f.username, current: f.current, code: f.code ?? '', password, confirm: f.confirm ?? password }, headers });
}

/** The page without what legitimately differs (the CSRF token, the username echoed back, the delay). */
function strip(html: string): string {
  return html.replace(/name="csrf" value="[^"]*"/g, '').replace(/name="username"[^>]*>/g, '').replace(/in \d+ seconds/g, '');
}

async function loginAttempt(b: Browser, username: string, password: string): Promise<HttpResult & { url: string }> {
  const p = pkce();
  const page = await b.follow(authorizeUrl(g.issuer, { challenge: p.challenge, method: 'S256' }));
  assert.match(page.text, /name="password"/);
  return b.follow(formAction(page), { form: { csrf: hiddenInput(page.text, 'csrf'), username, password } });
}

const api = (b: Browser, token: string) => b.fetch('/api/echo', { headers: { authorization: `Bearer ${token}` } });

test('the page: strict CSP with frame-ancestors none, no-store, a CSRF cookie; linked from the login page', async () => {
  const b = await browser();
  const r = await b.fetch(pagePath());
  assert.equal(r.status, 200);
  const csp = String(r.headers['content-security-policy']);
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.equal(r.headers['x-frame-options'], 'DENY');
  assert.equal(r.headers['cache-control'], 'no-store');
  assert.match(String(r.headers['strict-transport-security']), /max-age=/);
  assert.doesNotMatch(r.text, /<script>|<style>| on[a-z]+="/, 'no inline script, style or handler');
  assert.ok([...b.cookies().values()].some((c) => c.name === 'rampart-auth-csrf' && c.path === '/auth'));
  for (const name of ['username', 'current', 'code', 'password', 'confirm']) assert.match(r.text, new RegExp(`name="${name}"`));
  const login = await b.follow(authorizeUrl(g.issuer, { challenge: pkce().challenge, method: 'S256' }));
  assert.match(login.text, /<a href="\/auth\/account\/password">Change password<\/a>/);
  await b.close();
});

test('success: the new password works, the old one not; sessions, refresh tokens and earlier access tokens end', async () => {
  const { username, secret } = await user();
  const b = await browser();
  // Before: a login (code of the previous step), an access token the protected route takes, a refresh token.
  const p = pkce();
  const { code } = await browserLogin(b, g.issuer, { username, password: PASSWORD, totp: () => totpNow(secret, -1), pkceChallenge: p.challenge });
  const before = await tokenRequest(b, g.issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: WEB_CLIENT, code_verifier: p.verifier });
  assert.equal(before.status, 200, JSON.stringify(before.json));
  assert.equal((await api(b, before.json.access_token)).status, 200);
  const sessionsBefore = await g.store.oidc.listByAccount('Session', username);
  assert.equal(sessionsBefore.length, 1);

  const done = await change(b, { username, current: PASSWORD, code: totpNow(secret) });
  assert.equal(done.status, 200);
  assert.match(done.text, /Password changed/);
  assert.match(String(done.headers['content-security-policy']), /frame-ancestors 'none'/);

  // Earlier access tokens are refused at the gateway (subject cut-off and grant on the deny-list, S9).
  let r: HttpResult | undefined;
  for (let i = 0; i < 50; i++) {
    r = await api(b, before.json.access_token);
    if (r.status !== 200) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.equal(r?.status, 401);
  assert.equal(JSON.parse(r?.text ?? '{}').code, 'RAMPART_AUTHN_TOKEN_REVOKED');
  assert.ok(await g.store.denyList.find('grant', decodeJwt(before.json.access_token).grant_id as string));
  // Nothing mints a token again: the refresh token and the session are gone.
  const refresh = await tokenRequest(b, g.issuer, { grant_type: 'refresh_token', refresh_token: before.json.refresh_token, client_id: WEB_CLIENT });
  assert.equal(refresh.json.error, 'invalid_grant');
  assert.deepEqual(await g.store.oidc.listByAccount('Session', username), []);
  assert.deepEqual(await g.store.oidc.listByAccount('Grant', username), []);

  // The old password no longer signs in; the new one does (a later TOTP step), and its token works
  // once past the cut-off (tokens of the change's second and the next are refused, clock tolerance).
  assert.match((await loginAttempt(b, username, PASSWORD)).text, /Wrong username or password/);
  const cut = await g.store.denyList.find('subject', `${g.issuer}|user|${username}`);
  assert.ok(cut);
  const p2 = pkce();
  const { code: code2 } = await browserLogin(b, g.issuer, { username, password: NEW_PASSWORD, totp: () => totpNow(secret, 1), pkceChallenge: p2.challenge });
  while (Date.now() / 1000 < cut.notBefore + 1) await new Promise((resolve) => setTimeout(resolve, 100));
  const after = await tokenRequest(b, g.issuer, { grant_type: 'authorization_code', code: code2, redirect_uri: REDIRECT, client_id: WEB_CLIENT, code_verifier: p2.verifier });
  assert.equal(after.status, 200, JSON.stringify(after.json));
  assert.equal((await api(b, after.json.access_token)).status, 200);

  // A security event in ECS names, and no password in any log line.
  const event = g.logs.find((l) => l.log === 'security' && (l.event as Record<string, unknown>)?.['event.action'] === 'auth.password_changed')?.event as Record<string, unknown> | undefined;
  assert.ok(event);
  assert.equal(event['event.outcome'], 'success');
  assert.equal(event['user.id'], username);
  assert.ok((event['event.category'] as string[]).includes('iam'));
  for (const secretText of [PASSWORD, NEW_PASSWORD]) assert.equal(g.rawLogs().includes(secretText), false);
  await b.close();
});

test('a user without an authenticator changes the password without a code', async () => {
  const { username } = await user({ totp: false });
  const b = await browser();
  const r = await change(b, { username, current: PASSWORD });
  assert.match(r.text, /Password changed/);
  assert.match((await loginAttempt(b, username, NEW_PASSWORD)).text, /authenticator app|Set up two-step/);
  await b.close();
});

test('wrong current password, wrong or missing code, unknown user: one status and one page, nothing changed', async () => {
  const { username, secret } = await user();
  const hash = (await g.store.users.getByUsername(username))?.passwordHash;
  const pages: HttpResult[] = [];
  for (const f of [
    { username, current: 'not the password', code: totpNow(secret) },
    { username, current: PASSWORD, code: '000000' },
    { username, current: PASSWORD },
    { username: 'nobody-at-all', current: 'not the password', code: totpNow(secret) },
  ]) {
    const b = await browser();
    pages.push(await change(b, f));
    await b.close();
  }
  for (const p of pages) {
    assert.equal(p.status, 200);
    assert.match(p.text, /Wrong username, password or code/);
    assert.equal(strip(p.text), strip(pages[0]?.text ?? ''));
  }
  assert.equal((await g.store.users.getByUsername(username))?.passwordHash, hash);
  await new Promise((resolve) => setTimeout(resolve, 50));
  const failures = g.logs.filter((l) => l.log === 'security' && (l.event as Record<string, unknown>)?.['event.action'] === 'auth.password_change_failed');
  assert.ok(failures.length >= 4);
  assert.equal(g.rawLogs().includes('not the password'), false);
});

test('TOTP replay: a code used at the login is refused by the password change, and the other way round (S7)', async () => {
  const { username, secret } = await user();
  const b = await browser();
  const used = totpNow(secret);
  await browserLogin(b, g.issuer, { username, password: PASSWORD, totp: () => used, pkceChallenge: pkce().challenge });
  const replay = await change(b, { username, current: PASSWORD, code: used });
  assert.match(replay.text, /Wrong username, password or code/);
  const next = totpNow(secret, 1);
  assert.match((await change(b, { username, current: PASSWORD, code: next })).text, /Password changed/);
  // The code the change took does not sign in either.
  const p = pkce();
  await assert.rejects(browserLogin(b, g.issuer, { username, password: NEW_PASSWORD, totp: () => next, pkceChallenge: p.challenge }), /expected a redirect/);
  await b.close();
});

test('CSRF: no token, a forged one, another browser\'s, a login form\'s, another origin or a cross-site post → 403', async () => {
  const { username, secret } = await user();
  const b = await browser();
  const page = await changePage(b);
  const fields = { username, current: PASSWORD, code: totpNow(secret), password: NEW_PASSWORD, confirm: NEW_PASSWORD };
  const token = hiddenInput(page.text, 'csrf');
  assert.equal((await b.fetch(formAction(page), { form: fields })).status, 403);
  assert.equal((await b.fetch(formAction(page), { form: { ...fields, csrf: 'A'.repeat(43) } })).status, 403);
  assert.equal((await b.fetch(formAction(page), { form: { ...fields, csrf: token }, headers: { origin: 'https://evil.example' } })).status, 403);
  assert.equal((await b.fetch(formAction(page), { form: { ...fields, csrf: token }, headers: { 'sec-fetch-site': 'cross-site' } })).status, 403);
  const login = await b.follow(authorizeUrl(g.issuer, { challenge: pkce().challenge, method: 'S256' }));
  assert.equal((await b.fetch(formAction(page), { form: { ...fields, csrf: hiddenInput(login.text, 'csrf') } })).status, 403, 'a token is bound to its page');
  const other = await browser();
  assert.equal((await other.fetch(formAction(page), { form: { ...fields, csrf: token } })).status, 403, 'without the cookie it was made for');
  await other.close();
  assert.match((await g.store.users.getByUsername(username))?.passwordHash ?? '', /^\$argon2id/);
  assert.match((await b.fetch(formAction(page), { form: { ...fields, csrf: token } })).text, /Password changed/, 'the page\'s own token works');
  await b.close();
});

test('lockout (S6): failures here and on the login form share one budget per username + IP; 429 + Retry-After, the same for an unknown user', async () => {
  const { username, secret } = await user();
  const b = await browser();
  assert.equal((await change(b, { username, current: 'guess one', code: totpNow(secret) })).status, 200);
  assert.equal((await change(b, { username, current: PASSWORD, code: '123456' })).status, 200);
  assert.match((await loginAttempt(b, username, 'guess three')).text, /Wrong username or password/);
  // The budget (3) is spent: the login form and the change page both wait, even with the right answers.
  const login = await loginAttempt(b, username, PASSWORD);
  assert.equal(login.status, 429);
  assert.ok(Number(login.headers['retry-after']) > 0);
  const locked = await change(b, { username, current: PASSWORD, code: totpNow(secret) });
  assert.equal(locked.status, 429);
  assert.ok(Number(locked.headers['retry-after']) > 0);
  assert.match(locked.text, /Too many attempts/);
  assert.match(String(locked.headers['content-security-policy']), /frame-ancestors 'none'/);

  // An unknown username from another address: the same budget, the same 429 page.
  const u = await browser();
  for (let i = 0; i < 3; i++) assert.equal((await change(u, { username: 'nobody-here', current: `guess ${i}`, code: '123456' })).status, 200);
  const unknown = await change(u, { username: 'nobody-here', current: 'guess 4', code: '123456' });
  assert.equal(unknown.status, 429);
  assert.ok(Number(unknown.headers['retry-after']) > 0);
  assert.equal(strip(unknown.text), strip(locked.text));
  await u.close();
  await b.close();
});

test('the new password: S7 policy, both fields equal, not the current one; refusals cost no attempt and no code', async () => {
  const { username, secret } = await user();
  const b = await browser();
  const code = totpNow(secret);
  const breached = await change(b, { username, current: PASSWORD, code, password: 'password1' });
  assert.equal(breached.status, 200);
  assert.match(breached.text, /commonly used or breached password/);
  assert.match((await change(b, { username, current: PASSWORD, code, password: 'short' })).text, /at least 8 characters/);
  assert.match((await change(b, { username, current: PASSWORD, code, password: 'x'.repeat(129) })).text, /at most 128 characters/);
  assert.match((await change(b, { username, current: PASSWORD, code, confirm: 'something else entirely' })).text, /The two new passwords differ/);
  assert.match((await change(b, { username, current: PASSWORD, code, password: PASSWORD })).text, /different from the current one/);
  assert.match((await change(b, { username, current: PASSWORD, code, password: username })).text, /must not be the username/);
  // Six refusals, a budget of three: none was counted, and the code is still unused.
  assert.match((await change(b, { username, current: PASSWORD, code })).text, /Password changed/);
  await b.close();
});

test('bad input: a JSON body, another path under /account, another method', async () => {
  const b = await browser();
  await changePage(b);
  const json = await b.fetch(pagePath(), { method: 'POST', headers: { 'content-type': 'application/json', origin: g.base } });
  assert.equal(json.status, 400);
  const other = await b.fetch(`${g.issuer}/account/other`);
  assert.equal(other.status, 404);
  assert.match(String(other.headers['content-security-policy']), /frame-ancestors 'none'/);
  const put = await g.fetch('/auth/account/password', { method: 'PUT' });
  assert.equal(put.status, 405);
  assert.doesNotMatch(put.text, /at .*\.ts:\d+/, 'no stack trace');
  await b.close();
});
