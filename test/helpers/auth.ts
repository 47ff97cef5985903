/**
 * Helpers for the authorization server's black-box tests: a gateway with `authServer` on a known
 * free port (the issuer URL names it), users created in its real store, a cookie jar that follows
 * a browser's rules closely enough (Path, Secure, SameSite ignored: one site), PKCE values, TOTP.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { Agent, request } from 'undici';
import { startTestGateway, type TestGateway, withAuthenticatedPolicy } from './gateway.ts';
import { createArgon2Hasher } from '../../src/accounts/password-hash.ts';
import { hotp, totpStep } from '../../src/accounts/totp.ts';
import type { Store } from '../../src/store/types.ts';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

export interface AuthTestOptions {
  /** Extra YAML under authServer (indented by 2). */
  readonly authServer?: string;
  /** Extra top-level YAML (routes, upstreams, defaults). */
  readonly extra?: string;
}

export interface AuthGateway extends TestGateway {
  readonly issuer: string;
  readonly base: string;
  readonly store: Store;
}

export const API = 'https://api.test.example';
export const WEB_CLIENT = 'web';
export const REDIRECT = 'https://app.test.example/callback';

export async function startAuthGateway(o: AuthTestOptions = {}): Promise<AuthGateway> {
  const port = await freePort();
  const base = `https://localhost:${port}`;
  const issuer = `${base}/auth`;
  const yaml = `
listeners:
  - name: public
    host: 127.0.0.1
    port: ${port}
    protocol: https
    publicOrigin: ${base}
    tls: { dev: true }
authServer:
  issuer: ${issuer}
  resources:
    - indicator: ${API}
      scopes: [orders:read, orders:write]
  defaultResource: ${API}
  clients:
    - clientId: ${WEB_CLIENT}
      clientName: Demo web app
      redirectUris: [${REDIRECT}, http://127.0.0.1/callback]
      postLogoutRedirectUris: [https://app.test.example/bye]
      grantTypes: [authorization_code, refresh_token]
      scopes: [openid, offline_access, profile, orders:read, orders:write]
    - clientId: cli
      clientName: Rampart CLI
      redirectUris: [http://127.0.0.1/callback]
      grantTypes: [urn:ietf:params:oauth:grant-type:device_code, refresh_token, authorization_code]
      scopes: [openid, offline_access, orders:read]
${o.authServer ?? ''}
${o.extra ?? 'routes: []'}
`;
  const t = await startTestGateway(withAuthenticatedPolicy(yaml));
  return Object.assign(t, { issuer, base, store: t.gw.store });
}

const hasher = createArgon2Hasher();

export async function addUser(store: Store, username: string, password: string, o: { totpSecret?: Buffer; mustChangePassword?: boolean; keyring?: import('../../src/secrets/keyring.ts').Keyring } = {}): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  await store.users.create({
    id: username,
    username,
    passwordHash: await hasher.hash(password),
    mustChangePassword: o.mustChangePassword ?? false,
    roles: [],
    recoveryCodeHashes: [],
    disabled: false,
    createdAt: now,
    updatedAt: now,
    ...(o.totpSecret && o.keyring ? { totpSecretSealed: o.keyring.seal('totp-secrets', o.totpSecret, username) } : {}),
  });
}

/** The code of the authenticator at `offsetSteps` from now. */
export function totpNow(secret: Buffer, offsetSteps = 0): string {
  return hotp(secret, totpStep(Date.now() / 1000) + offsetSteps);
}

export function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  location?: string;
}

/** A browser-like client: a cookie jar keyed by name and path; redirects are returned, not followed. */
export class Browser {
  /** Keyed by name and path (RFC 6265 §5.3: a cookie is identified by name, domain and path). */
  readonly #jar = new Map<string, { name: string; value: string; path: string }>();
  readonly #agent: Agent;
  readonly #origin: string;

  readonly #headers: Record<string, string>;

  /** `headers` go with every request (e.g. X-Forwarded-For through a trusted proxy, to be another client IP). */
  constructor(ca: string, origin: string, headers: Record<string, string> = {}) {
    this.#agent = new Agent({ connect: { ca, rejectUnauthorized: true } });
    this.#origin = origin;
    this.#headers = headers;
  }

  cookies(): ReadonlyMap<string, { name: string; value: string; path: string }> {
    return this.#jar;
  }

  /** RFC 6265 §5.1.4 path-match; longer paths first (§5.4). */
  cookieHeader(path: string): string {
    return [...this.#jar.values()]
      .filter((c) => path === c.path || path.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))
      .sort((a, b) => b.path.length - a.path.length)
      .map((c) => `${c.name}=${c.value}`)
      .join('; ');
  }

  async fetch(url: string, o: { method?: 'GET' | 'POST'; form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<HttpResult> {
    const u = new URL(url, this.#origin);
    const headers: Record<string, string> = { ...this.#headers, ...(o.headers ?? {}) };
    const cookie = this.cookieHeader(u.pathname);
    if (cookie) headers.cookie = cookie;
    let body: string | null = null;
    if (o.form) {
      body = new URLSearchParams(o.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
      headers.origin ??= this.#origin;
    }
    const res = await request(u, { method: o.method ?? (o.form ? 'POST' : 'GET'), headers, body, dispatcher: this.#agent });
    const text = await res.body.text();
    const set = res.headers['set-cookie'];
    for (const line of Array.isArray(set) ? set : set ? [set] : []) this.#store(line);
    const location = res.headers.location as string | undefined;
    return { status: res.statusCode, headers: res.headers as HttpResult['headers'], text, ...(location ? { location: new URL(location, u).href } : {}) };
  }

  /** Follows redirects on this origin (303/302 → GET) until one leaves it or a page answers. */
  async follow(url: string, o: { method?: 'GET' | 'POST'; form?: Record<string, string> } = {}): Promise<HttpResult & { url: string }> {
    let current = url;
    let r = await this.fetch(current, o);
    for (let i = 0; i < 10 && r.location && r.location.startsWith(this.#origin); i++) {
      current = r.location;
      r = await this.fetch(current);
    }
    return { ...r, url: current };
  }

  #store(line: string): void {
    const [pair = '', ...attrs] = line.split(';');
    const i = pair.indexOf('=');
    const name = pair.slice(0, i).trim();
    const value = pair.slice(i + 1).trim();
    let path = '/';
    let expired = false;
    for (const a of attrs) {
      const [k = '', v = ''] = a.split('=');
      if (k.trim().toLowerCase() === 'path') path = v.trim();
      if (k.trim().toLowerCase() === 'expires' && new Date(v.trim()).getTime() < Date.now()) expired = true;
      if (k.trim().toLowerCase() === 'max-age' && Number(v) <= 0) expired = true;
    }
    const key = `${name}\u0000${path}`;
    if (expired || value === '') this.#jar.delete(key);
    else this.#jar.set(key, { name, value, path });
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

/** The value of a hidden input in a page. */
export function hiddenInput(page: string, name: string): string {
  const m = new RegExp(`name="${name}" value="([^"]*)"`).exec(page);
  if (!m) throw new Error(`no hidden input ${name} in the page`);
  return m[1] as string;
}

export interface AuthorizeParams {
  readonly clientId?: string;
  readonly redirectUri?: string;
  readonly scope?: string;
  readonly challenge?: string | undefined;
  readonly method?: string | undefined;
  readonly state?: string;
  readonly resource?: string | undefined;
  readonly extra?: Record<string, string>;
}

export function authorizeUrl(issuer: string, p: AuthorizeParams): string {
  const q = new URLSearchParams({
    client_id: p.clientId ?? WEB_CLIENT,
    response_type: 'code',
    redirect_uri: p.redirectUri ?? REDIRECT,
    scope: p.scope ?? 'openid offline_access orders:read',
    state: p.state ?? 'st-123',
    ...(p.challenge !== undefined ? { code_challenge: p.challenge } : {}),
    ...(p.method !== undefined ? { code_challenge_method: p.method } : {}),
    ...(p.resource !== undefined ? { resource: p.resource } : {}),
    // OpenID Connect Core §11: offline_access is granted only with prompt=consent.
    ...((p.scope ?? 'offline_access').includes('offline_access') ? { prompt: 'consent' } : {}),
    ...(p.extra ?? {}),
  });
  return `${issuer}/authorize?${q.toString()}`;
}

/**
 * Drives a browser through login (password, then TOTP), consent and back to the redirect URI.
 * Returns the authorization code (and the final redirect).
 */
export async function browserLogin(b: Browser, issuer: string, o: { username: string; password: string; totp: () => string; pkceChallenge: string; scope?: string; clientId?: string; redirectUri?: string }): Promise<{ code: string; redirect: URL }> {
  let r = await b.follow(authorizeUrl(issuer, { challenge: o.pkceChallenge, method: 'S256', ...(o.scope ? { scope: o.scope } : {}), ...(o.clientId ? { clientId: o.clientId } : {}), ...(o.redirectUri ? { redirectUri: o.redirectUri } : {}) }));
  if (!r.text.includes('name="password"')) throw new Error(`expected the login page, got ${r.status}: ${r.text.slice(0, 300)}`);
  r = await b.follow(formAction(r), { form: { csrf: hiddenInput(r.text, 'csrf'), username: o.username, password: o.password } });
  if (!r.text.includes('authenticator app')) throw new Error(`expected the TOTP page, got ${r.status}: ${r.text.slice(0, 300)}`);
  r = await b.follow(formAction(r), { form: { csrf: hiddenInput(r.text, 'csrf'), code: o.totp() } });
  if (r.text.includes('Allow access')) r = await b.follow(formAction(r), { form: { csrf: hiddenInput(r.text, 'csrf') } });
  if (!r.location) throw new Error(`expected a redirect to the client, got ${r.status}: ${r.text.slice(0, 300)}`);
  const redirect = new URL(r.location);
  const code = redirect.searchParams.get('code');
  if (!code) throw new Error(`no code in ${redirect.href}`);
  return { code, redirect };
}

/** The action of the first POST form of a page (resolved against the page's URL). */
export function formAction(page: { text: string; url: string }): string {
  const m = /<form method="post" action="([^"]+)"/.exec(page.text);
  if (!m) throw new Error('no form in the page');
  return new URL((m[1] as string).replaceAll('&amp;', '&'), page.url).href;
}

export async function tokenRequest(b: Browser, issuer: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, any> }> {
  const r = await b.fetch(`${issuer}/token`, { form, headers: { origin: '', ...headers } });
  return { status: r.status, json: JSON.parse(r.text) as Record<string, any> };
}
