/**
 * The whole login once in a real browser (headless Chromium from Debian, driven by
 * playwright-core): the pages render and submit under the strict CSP (no violation reported), the
 * form_post response mode auto-submits through /auth/assets/rampart.js, and the code is redeemed.
 * Skipped locally when Chromium is missing; under CI=true a missing browser fails the test.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { Browser, REDIRECT, WEB_CLIENT, addUser, authorizeUrl, pkce, startAuthGateway, tokenRequest, totpNow, type AuthGateway } from '../../helpers/auth.ts';
import { createKeyring } from '../../../src/secrets/keyring.ts';
import { loadMasterKey } from '../../../src/secrets/master-key.ts';

const CHROMIUM = '/usr/bin/chromium';
const present = existsSync(CHROMIUM);
const skip = !present && process.env.CI !== 'true' ? 'Chromium is not installed (apt-get install chromium); .ci/run installs it' : false;

let g: AuthGateway;
const secret = randomBytes(20);
const bobSecret = randomBytes(20);
before(async () => {
  if (skip) return;
  g = await startAuthGateway();
  const keyring = createKeyring(await loadMasterKey({ dataDir: g.gw.dataDir, dev: true, value: undefined }));
  await addUser(g.store, 'alice', 'correct horse battery', { totpSecret: secret, keyring });
  await addUser(g.store, 'bob', 'correct horse battery', { totpSecret: bobSecret, keyring });
});
after(() => g?.close());

test('headless Chromium: password, TOTP, consent and a form_post response under the strict CSP', { skip }, async () => {
  assert.ok(present, `${CHROMIUM} is required under CI`);
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    // The dev CA is not in Chromium's store: certificate errors are ignored for this context only
    // (TLS still runs for real); nothing leaves loopback (the client's redirect URI is intercepted).
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    let callback: { method: string; body: string } | undefined;
    await context.route(`${REDIRECT}**`, async (route) => {
      callback = { method: route.request().method(), body: route.request().postData() ?? '' };
      await route.fulfill({ status: 200, contentType: 'text/plain', body: 'client callback' });
    });
    await context.route((url) => !url.href.startsWith(g.base) && !url.href.startsWith(REDIRECT), (route) => route.abort());
    const p = pkce();
    await page.goto(authorizeUrl(g.issuer, { challenge: p.challenge, method: 'S256', extra: { response_mode: 'form_post' } }));
    await page.fill('#username', 'alice');
    await page.fill('#password', 'correct horse battery');
    await page.click('button[type=submit]');
    await page.waitForSelector('#code');
    await page.fill('#code', totpNow(secret));
    await page.click('button[type=submit]');
    await page.waitForSelector('text=Allow access?');
    await page.click('button:has-text("Allow")');
    await page.waitForURL(`${REDIRECT}**`);
    assert.equal(callback?.method, 'POST', 'form_post submitted by rampart.js');
    const form = new URLSearchParams(callback?.body);
    assert.equal(form.get('state'), 'st-123');
    const code = form.get('code');
    assert.ok(code);
    const b = new Browser(await g.ca(), g.base);
    const t = await tokenRequest(b, g.issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: WEB_CLIENT, code_verifier: p.verifier });
    await b.close();
    assert.equal(t.status, 200);
    assert.deepEqual(decodeJwt(t.json.access_token).amr, ['pwd', 'otp']);
    assert.deepEqual(violations, []);
  } finally {
    await browser.close();
  }
});

test('headless Chromium: the login page cannot be framed (frame-ancestors none)', { skip }, async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await page.goto(`${g.issuer}/assets/rampart.css`);
    await page.setContent(`<iframe id="f" src="${authorizeUrl(g.issuer, { challenge: pkce().challenge, method: 'S256' })}"></iframe>`);
    await page.waitForTimeout(1500);
    const framed = page.frames().find((f) => f !== page.mainFrame());
    const text = framed ? await framed.content().catch(() => '') : '';
    assert.doesNotMatch(text, /Sign in/);
  } finally {
    await browser.close();
  }
});

test('headless Chromium: the login page links to the password change, which submits under the CSP and its CSRF check', { skip }, async () => {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to/i.test(m.text())) violations.push(m.text());
    });
    await context.route((url) => !url.href.startsWith(g.base), (route) => route.abort());
    await page.goto(authorizeUrl(g.issuer, { challenge: pkce().challenge, method: 'S256' }));
    await page.click('text=Change password');
    await page.waitForSelector('#current');
    await page.fill('#username', 'bob');
    await page.fill('#current', 'correct horse battery');
    await page.fill('#code', totpNow(bobSecret));
    await page.fill('#password', 'a brand new pass phrase');
    await page.fill('#confirm', 'a brand new pass phrase');
    await page.click('button[type=submit]');
    await page.waitForSelector('text=Password changed');
    assert.deepEqual(violations, []);
  } finally {
    await browser.close();
  }
});
