/**
 * The login pages under attack, through the real gateway over HTTPS: user enumeration, parallel
 * password guessing, TOTP replay and brute force, CSRF; and the pages' own paths: enrolment with a
 * QR code, recovery codes, password change at first login, cancel.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { Browser, REDIRECT, WEB_CLIENT, addUser, authorizeUrl, formAction, hiddenInput, pkce, startAuthGateway, tokenRequest, totpNow, type AuthGateway } from '../../helpers/auth.ts';
import { createKeyring, type Keyring } from '../../../src/secrets/keyring.ts';
import { loadMasterKey } from '../../../src/secrets/master-key.ts';
import { hotp, totpStep } from '../../../src/accounts/totp.ts';
import { base32Decode } from '../../../src/accounts/base32.ts';

let g: AuthGateway;
let keyring: Keyring;
const PASSWORD = 'correct horse battery';

before(async () => {
  // The tests reach the gateway through a trusted proxy on loopback, each from its own client IP (S5).
  g = await startAuthGateway({ authServer: '  login: { maxFailures: 3, windowSeconds: 900, baseDelaySeconds: 60, maxDelaySeconds: 600 }', extra: 'trustedProxies: [127.0.0.1]\nroutes: []' });
  keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
});
after(() => g.close());

let clients = 0;
/** A browser at a client IP of its own (documentation range 198.51.100.0/24). */
function browserAt(ip: string): Promise<Browser> {
  return g.ca().then((ca) => new Browser(ca, g.base, { 'x-forwarded-for': ip }));
}
function browser(): Promise<Browser> {
  clients += 1;
  return browserAt(`198.51.100.${clients}`);
}

let n = 0;
async function user(o: { totp?: boolean; mustChangePassword?: boolean } = {}): Promise<{ username: string; secret: Buffer }> {
  n += 1;
  const username = `abuse${n}`;
  const secret = randomBytes(20);
  await addUser(g.store, username, PASSWORD, { ...(o.totp === false ? {} : { totpSecret: secret, keyring }), mustChangePassword: o.mustChangePassword ?? false });
  return { username, secret };
}

async function loginPage(b: Browser, p = pkce()) {
  const r = await b.follow(authorizeUrl(g.issuer, { challenge: p.challenge, method: 'S256' }));
  assert.match(r.text, /name="password"/);
  return r;
}

function strip(html: string): string {
  return html.replace(/name="csrf" value="[^"]*"/g, '').replace(/action="[^"]*"/g, '').replace(/href="\/auth\/interaction\/[^"]*"/g, '').replace(/value="abuse[^"]*"|value="nobody[^"]*"/g, '');
}

test('enumeration: an unknown user and a wrong password get the same status and the same page', async () => {
  const { username } = await user();
  const b = await browser();
  const page1 = await loginPage(b);
  const wrong = await b.follow(formAction(page1), { form: { csrf: hiddenInput(page1.text, 'csrf'), username, password: 'not the password' } });
  const page2 = await loginPage(b);
  const unknown = await b.follow(formAction(page2), { form: { csrf: hiddenInput(page2.text, 'csrf'), username: 'nobody-at-all', password: 'not the password' } });
  assert.equal(wrong.status, unknown.status);
  assert.equal(strip(wrong.text), strip(unknown.text));
  assert.match(wrong.text, /Wrong username or password/);
  // Both failures are security events (ECS names) for the monitoring practice; the password never appears.
  await new Promise((r) => setTimeout(r, 50));
  const events = g.logs.filter((l) => l.log === 'security' && (l.event as Record<string, unknown>)?.['event.action'] === 'auth.login_failed');
  assert.ok(events.length >= 2);
  assert.equal(g.rawLogs().includes('not the password'), false);
  await b.close();
});

test('parallel password guessing beyond the budget: only the budget reaches the password check, the rest get 429', async () => {
  const { username } = await user();
  const b = await browser();
  const pages = [];
  for (let i = 0; i < 8; i++) pages.push(await loginPage(b));
  const results = await Promise.all(pages.map((p, i) => b.fetch(formAction(p), { form: { csrf: hiddenInput(p.text, 'csrf'), username, password: `guess number ${i}` } })));
  const checked = results.filter((r) => r.status === 200).length;
  const throttled = results.filter((r) => r.status === 429);
  assert.equal(checked, 3, 'maxFailures attempts are checked');
  assert.equal(throttled.length, 5);
  assert.ok(Number(throttled[0]?.headers['retry-after']) > 0);
  // Even the right password waits now (soft lockout), for this username from this address only.
  const p = await loginPage(b);
  const right = await b.fetch(formAction(p), { form: { csrf: hiddenInput(p.text, 'csrf'), username, password: PASSWORD } });
  assert.equal(right.status, 429);
  await b.close();
});

async function toTotpPage(b: Browser, username: string) {
  const p = await loginPage(b);
  const r = await b.follow(formAction(p), { form: { csrf: hiddenInput(p.text, 'csrf'), username, password: PASSWORD } });
  assert.match(r.text, /authenticator app/, r.text.slice(0, 200));
  return r;
}

test('the per-IP budget (4× maxFailures) caps guesses spread over many usernames from one address', async () => {
  const b = await browser();
  const statuses: number[] = [];
  for (let i = 0; i < 14; i++) {
    const p = await loginPage(b);
    statuses.push((await b.fetch(formAction(p), { form: { csrf: hiddenInput(p.text, 'csrf'), username: `spray${i}`, password: 'Winter2025!' } })).status);
  }
  assert.deepEqual(statuses, [...Array(12).fill(200), 429, 429]);
  // Another address is not affected.
  const other = await browser();
  const p = await loginPage(other);
  assert.equal((await other.fetch(formAction(p), { form: { csrf: hiddenInput(p.text, 'csrf'), username: 'spray0', password: 'x' } })).status, 200);
  await b.close();
  await other.close();
});

test('TOTP replay: a code already used is refused in the next login (S7)', async () => {
  const { username, secret } = await user();
  const code = totpNow(secret);
  const b1 = await browser();
  const t1 = await toTotpPage(b1, username);
  const ok = await b1.fetch(formAction(t1), { form: { csrf: hiddenInput(t1.text, 'csrf'), code } });
  assert.equal(ok.status, 303);
  const b2 = await browser();
  const t2 = await toTotpPage(b2, username);
  const replay = await b2.fetch(formAction(t2), { form: { csrf: hiddenInput(t2.text, 'csrf'), code } });
  assert.equal(replay.status, 200);
  assert.match(replay.text, /That code is not valid/);
  await b1.close();
  await b2.close();
});

test('TOTP brute force: wrong codes count towards the same lockout (429 after the budget)', async () => {
  const { username } = await user();
  const b = await browser();
  let t = await toTotpPage(b, username);
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await b.fetch(formAction(t), { form: { csrf: hiddenInput(t.text, 'csrf'), code: String(100000 + i) } });
    statuses.push(r.status);
    if (r.status === 200) t = { ...r, url: t.url };
  }
  // The password step counts as an attempt until the whole login succeeds: budget 3 = 1 + 2 codes.
  assert.deepEqual(statuses, [200, 200, 429, 429, 429]);
  await b.close();
});

test('CSRF: a form without the token, with a forged token or from another origin is refused (403)', async () => {
  const { username } = await user();
  const b = await browser();
  const p = await loginPage(b);
  const noToken = await b.fetch(formAction(p), { form: { username, password: PASSWORD } });
  assert.equal(noToken.status, 403);
  const forged = await b.fetch(formAction(p), { form: { csrf: 'A'.repeat(43), username, password: PASSWORD } });
  assert.equal(forged.status, 403);
  const crossOrigin = await b.fetch(formAction(p), { form: { csrf: hiddenInput(p.text, 'csrf'), username, password: PASSWORD }, headers: { origin: 'https://evil.example' } });
  assert.equal(crossOrigin.status, 403);
  const crossSite = await b.fetch(formAction(p), { form: { csrf: hiddenInput(p.text, 'csrf'), username, password: PASSWORD }, headers: { 'sec-fetch-site': 'cross-site' } });
  assert.equal(crossSite.status, 403);
  // Another browser (no CSRF cookie, no interaction cookie) cannot post into this interaction.
  const other = await browser();
  const stolen = await other.fetch(formAction(p), { form: { csrf: hiddenInput(p.text, 'csrf'), username, password: PASSWORD } });
  assert.equal(stolen.status, 400);
  await other.close();
  await b.close();
});

test('bad input: a JSON body, a duplicated field or an unknown step never crash the pages', async () => {
  const b = await browser();
  const p = await loginPage(b);
  const json = await b.fetch(formAction(p), { method: 'POST', headers: { 'content-type': 'application/json', origin: g.base }, form: undefined as never });
  assert.equal(json.status, 400);
  const dup = await b.fetch(`${formAction(p)}`, { form: { csrf: hiddenInput(p.text, 'csrf'), username: 'a' }, headers: {} });
  assert.ok([200, 403].includes(dup.status));
  const unknown = await b.fetch(formAction(p).replace(/\/login$/, '/nope'), { form: { csrf: hiddenInput(p.text, 'csrf') } });
  assert.equal(unknown.status, 404);
  const badUid = await b.fetch(`${g.issuer}/interaction/..%2f..%2fetc`);
  assert.ok([400, 404].includes(badUid.status));
  assert.doesNotMatch(badUid.text, /at .*\.ts:\d+/, 'no stack trace');
  await b.close();
});

test('enrolment: a user without an authenticator scans a QR code (otpauth URI), confirms a code, gets recovery codes once', async () => {
  const { username } = await user({ totp: false });
  const b = await browser();
  const p = pkce();
  const page = await loginPage(b, p);
  const enrol = await b.follow(formAction(page), { form: { csrf: hiddenInput(page.text, 'csrf'), username, password: PASSWORD } });
  assert.match(enrol.text, /<svg/);
  assert.doesNotMatch(enrol.text, /<script>/);
  const key = /<code class="secret">([A-Z2-7 ]+)<\/code>/.exec(enrol.text)?.[1];
  assert.ok(key);
  const secret = base32Decode(key.replace(/ /g, '')) as Buffer;
  assert.equal(secret.length, 20);
  const wrong = await b.fetch(formAction(enrol), { form: { csrf: hiddenInput(enrol.text, 'csrf'), code: '000000' } });
  assert.match(wrong.text, /That code is not valid/);
  const codes = await b.fetch(formAction(enrol), { form: { csrf: hiddenInput(enrol.text, 'csrf'), code: hotp(secret, totpStep(Date.now() / 1000)) } });
  assert.equal(codes.status, 200);
  const recovery = [...codes.text.matchAll(/<li><code>([^<]+)<\/code><\/li>/g)].map((m) => m[1] as string);
  assert.equal(recovery.length, 10);
  const stored = await g.store.users.getByUsername(username);
  assert.ok(stored?.totpSecretSealed && !stored.totpSecretSealed.includes(key.replace(/ /g, '')));
  for (const c of recovery) assert.equal(JSON.stringify(stored).includes(c), false, 'recovery codes stored hashed');
  let r = await b.follow(formAction({ text: codes.text, url: enrol.url }), { form: { csrf: hiddenInput(codes.text, 'csrf') } });
  if (r.text.includes('Allow access')) r = await b.follow(formAction(r), { form: { csrf: hiddenInput(r.text, 'csrf') } });
  const code = new URL(r.location ?? '').searchParams.get('code');
  assert.ok(code);
  const t = await tokenRequest(b, g.issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: WEB_CLIENT, code_verifier: p.verifier });
  assert.deepEqual(decodeJwt(t.json.access_token).amr, ['pwd', 'otp']);

  // Later: a recovery code instead of the app — single use, amr without otp (S7).
  const b2 = await browser();
  const p2 = pkce();
  const totp = await toTotpPage(b2, username);
  const rec = await b2.follow(`${new URL(formAction(totp)).pathname.replace(/\/totp$/, '')}/recovery`.replace(/^/, g.base));
  assert.match(rec.text, /Recovery code/);
  let done = await b2.follow(formAction(rec), { form: { csrf: hiddenInput(rec.text, 'csrf'), code: recovery[0] as string } });
  if (done.text.includes('Allow access')) done = await b2.follow(formAction(done), { form: { csrf: hiddenInput(done.text, 'csrf') } });
  void p2;
  const to = new URL(done.location ?? '');
  assert.ok(to.searchParams.get('code'), done.text.slice(0, 200));
  const b3 = await browser();
  const totp3 = await toTotpPage(b3, username);
  const rec3 = await b3.follow(`${g.base}${new URL(formAction(totp3)).pathname.replace(/\/totp$/, '')}/recovery`);
  const again = await b3.fetch(formAction(rec3), { form: { csrf: hiddenInput(rec3.text, 'csrf'), code: recovery[0] as string } });
  assert.match(again.text, /That code is not valid/, 'a recovery code works once');
  await b.close();
  await b2.close();
  await b3.close();
});

test('a password set by an administrator is changed at first login, with the S7 policy', async () => {
  const { username, secret } = await user({ mustChangePassword: true });
  const b = await browser();
  const page = await loginPage(b);
  const change = await b.follow(formAction(page), { form: { csrf: hiddenInput(page.text, 'csrf'), username, password: PASSWORD } });
  assert.match(change.text, /Choose a new password/);
  const weak = await b.fetch(formAction(change), { form: { csrf: hiddenInput(change.text, 'csrf'), password: 'password1', confirm: 'password1' } });
  assert.match(weak.text, /breach|common|known/i);
  const short = await b.fetch(formAction(change), { form: { csrf: hiddenInput(change.text, 'csrf'), password: 'short', confirm: 'short' } });
  assert.match(short.text, /at least 8/);
  const ok = await b.follow(formAction(change), { form: { csrf: hiddenInput(change.text, 'csrf'), password: 'a brand new pass phrase', confirm: 'a brand new pass phrase' } });
  assert.match(ok.text, /authenticator app/);
  assert.equal((await g.store.users.getByUsername(username))?.mustChangePassword, false);
  void secret;
  await b.close();
});

test('cancel: the client gets access_denied at its redirect URI', async () => {
  const b = await browser();
  const page = await loginPage(b);
  const abort = /action="([^"]+\/abort)"/.exec(page.text)?.[1];
  assert.ok(abort);
  const r = await b.follow(new URL(abort, g.base).href, { form: { csrf: hiddenInput(page.text, 'csrf') } });
  const to = new URL(r.location ?? '');
  assert.equal(to.origin + to.pathname, REDIRECT);
  assert.equal(to.searchParams.get('error'), 'access_denied');
  await b.close();
});
