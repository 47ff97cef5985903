/**
 * Principals for the authorization tests: built-in user and client tokens minted by a test issuer
 * that stands in for the built-in server (same issuer URL as `authServer.issuer`, so that ownership
 * rules of issuer `builtin` apply), API keys with chosen ids, and assertions on the answer, the
 * access-log line and the security event of a request.
 */
import assert from 'node:assert/strict';
import { timingSafeEqual } from 'node:crypto';
import { makeKey, accessToken, now, TestBuiltinIssuer, type TestKey } from '../../src/stages/authn/testing.ts';
import { onSecurityEvent, type SecurityEvent } from '../../src/observe/events.ts';
import { ACR_MFA } from '../../src/auth-server/acr.ts';
import type { ApiKeyCheck, ApiKeyVerifier } from '../../src/core/authn-port.ts';
import type { ApiKeyRecord, Store } from '../../src/store/types.ts';
import type { TestGateway } from './gateway.ts';
import { rawRequest } from './raw.ts';

/** Issuer of the built-in server in the tests' configs (`authServer.issuer`). */
export const BUILTIN = 'https://localhost:8443/auth';
/** The API's resource indicator: the `aud` of the tokens. */
export const API = 'https://api.test';

/** The `authServer` and built-in audience lines every authz test config shares. */
export const AUTH_SERVER_YAML = `
authServer:
  issuer: ${BUILTIN}
  resources: [{ indicator: "${API}", scopes: [openid] }]
`;

/** An API-key verifier double with chosen key ids (src/accounts makes random ones). */
export class Keys implements ApiKeyVerifier {
  readonly #records = new Map<string, { record: ApiKeyRecord; secret: string }>();
  add(id: string, roles: readonly string[], scopes: readonly string[] = []): string {
    const secret = `S${id.replace(/[^A-Za-z0-9]/g, '')}`.padEnd(43, 'x');
    this.#records.set(id, { secret, record: { id, name: `key ${id}`, secretMac: 'x', pepperKid: 'k', roles, scopes, createdAt: now() - 10 } });
    return `rmp_${id}_${secret}`;
  }
  async verify(presented: string, at: number): Promise<ApiKeyCheck> {
    const m = /^rmp_([A-Za-z0-9]+)_([A-Za-z0-9]+)$/.exec(presented);
    if (!m) return { ok: false, reason: 'malformed' };
    const e = this.#records.get(m[1] as string);
    if (!e) return { ok: false, reason: 'unknown' };
    const a = Buffer.from(m[2] as string);
    const b = Buffer.from(e.secret);
    if (a.length !== b.length || !timingSafeEqual(a, b)) return { ok: false, reason: 'mismatch' };
    if (e.record.expiresAt !== undefined && e.record.expiresAt <= at) return { ok: false, reason: 'expired' };
    return { ok: true, key: e.record };
  }
}

export interface Issuers {
  readonly builtin: TestBuiltinIssuer;
  readonly keys: Keys;
  readonly signingKey: TestKey;
  /** A user token of the built-in server (password + TOTP five seconds ago unless overridden). */
  user(sub: string, claims?: Record<string, unknown>): string;
  /** A client-credentials token of the built-in server (sub = client_id, no auth_time). */
  client(clientId: string, claims?: Record<string, unknown>): string;
}

export function issuers(defaultScope: string): Issuers {
  const signingKey = makeKey('ES256', 'builtin-authz');
  const builtin = new TestBuiltinIssuer(BUILTIN, [API], [signingKey]);
  return {
    builtin,
    keys: new Keys(),
    signingKey,
    user: (sub, claims = {}) => accessToken(signingKey, { iss: BUILTIN, aud: API, sub, client_id: 'web', scope: defaultScope, auth_time: now() - 5, amr: ['pwd', 'otp'], acr: ACR_MFA, ...claims }),
    client: (clientId, claims = {}) => accessToken(signingKey, { iss: BUILTIN, aud: API, sub: clientId, client_id: clientId, scope: defaultScope, ...claims }),
  };
}

export async function addUsers(store: Store, users: Record<string, readonly string[]>): Promise<void> {
  const at = now();
  for (const [id, roles] of Object.entries(users)) {
    await store.users.create({ id, username: id, passwordHash: '$scrypt$x', mustChangePassword: false, roles, recoveryCodeHashes: [], disabled: false, createdAt: at, updatedAt: at });
  }
}

export async function addClients(store: Store, clients: Record<string, readonly string[]>): Promise<void> {
  for (const [clientId, roles] of Object.entries(clients)) {
    await store.clients.create({ clientId, metadata: {}, roles, disabled: false, createdAt: now() });
  }
}

export const bearer = (token: string): { headers: Record<string, string> } => ({ headers: { authorization: `Bearer ${token}` } });
export const apiKey = (key: string): { headers: Record<string, string> } => ({ headers: { 'x-api-key': key } });

type Answer = { status: number; headers: Record<string, unknown>; text: string; json: () => any };

/** Asserts the exact status and Rampart code of a problem+json answer; returns the problem. */
export function expectProblem(res: Answer, status: number, code: string): Record<string, any> {
  assert.equal(res.status, status, `expected ${status} ${code}, got ${res.status}: ${res.text.slice(0, 300)}`);
  assert.equal(res.headers['content-type'], 'application/problem+json');
  const p = res.json();
  assert.equal(p.code, code);
  assert.equal(p.status, status);
  return p;
}

/** The access-log line of a request (written when its response closes: waited for, bounded). */
export async function accessLine(t: TestGateway, res: { headers: Record<string, unknown> }): Promise<Record<string, any>> {
  const id = res.headers['x-request-id'];
  for (let i = 0; i < 200; i++) {
    const line = t.logs.find((l) => l.log === 'access' && l.requestId === id);
    if (line) return line;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`no access-log line for request ${String(id)}`);
}

/** Security events as the diagnostics channel carries them (src/observe/events.ts). */
export function securityEvents(): { readonly all: SecurityEvent[]; of(res: { headers: Record<string, unknown> }, t: TestGateway): Promise<SecurityEvent[]>; stop(): void } {
  const all: SecurityEvent[] = [];
  const stop = onSecurityEvent((e) => all.push(e));
  return {
    all,
    stop,
    /** The events of one request, matched by its trace id through the access log. */
    async of(res, t) {
      const line = await accessLine(t, res);
      return all.filter((e) => e['trace.id'] === line.traceId);
    },
  };
}

/**
 * A request whose target goes on the wire byte for byte (WHATWG URL parsing in clients resolves
 * dot segments, `%2e` and backslashes before sending: the gateway must be tested on the raw form).
 */
export async function rawFetch(t: TestGateway, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer & { headers: Record<string, string> }> {
  const lines = [`${method} ${target} HTTP/1.1`, `host: localhost:${t.port()}`, 'connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  const r = await rawRequest(t.port(), `${lines.join('\r\n')}\r\n\r\n`, { ca: await t.ca() });
  return { status: r.status, headers: r.headers, text: r.body, json: () => JSON.parse(r.body) };
}
