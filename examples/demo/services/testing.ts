/** Test support for the demo services: a real signer, a verifier on its JWKS, and callers. */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { generateKeyPair, SignJWT } from 'jose';
import { ANONYMOUS, type Principal } from '../../../src/core/principal.ts';
import { createKeyring } from '../../../src/secrets/keyring.ts';
import { createIdentitySigner } from '../../../src/identity/signer.ts';
import { createIdentityVerifier } from '../../../src/identity/verify.ts';
import type { RunningService, ServiceOptions } from './http.ts';

export const GATEWAY_ISSUER = 'urn:rampart:gateway';
export const LOCAL_ISSUER = 'https://localhost:8443/auth';

const user = (subject: string, roles: string[]): Principal => ({
  kind: 'user',
  subject,
  issuer: LOCAL_ISSUER,
  roles,
  scopes: [],
  amr: ['pwd', 'otp'],
  claims: {},
});

export const principals = {
  alice: user('alice', ['customer']),
  bob: user('bob', ['customer']),
  admin: user('admin', ['admin']),
  anonymous: ANONYMOUS,
  /** A service client (client credentials) without the admin role. */
  client: { ...user('reporting', []), kind: 'client', clientId: 'reporting' } satisfies Principal,
  /** An API key with the back-office `reporting` role: reads every order, changes none. */
  reportingKey: { ...user('k-reports', ['reporting']), kind: 'key', keyId: 'k-reports', issuer: 'urn:rampart:api-keys' } satisfies Principal,
  /** An external IdP's user whose `sub` happens to be `alice` (S3). */
  externalAlice: { ...user('alice', ['customer']), issuer: 'https://idp.example.com' } satisfies Principal,
};

export interface Harness {
  readonly base: string;
  tokenFor(principal: Principal): Promise<string>;
  /** A token with every claim right, signed by a key the service does not trust. */
  forged(principal: Principal): Promise<string>;
  call(
    method: string,
    path: string,
    options?: { as?: Principal; token?: string; body?: unknown; contentType?: string },
  ): Promise<{ status: number; headers: Headers; body: any }>;
}

export async function harness(
  t: TestContext,
  audience: string,
  start: (options: ServiceOptions) => Promise<RunningService>,
  extra: Partial<ServiceOptions> = {},
): Promise<Harness> {
  const dataDir = await mkdtemp(join(tmpdir(), `rampart-demo-${audience}-`));
  const signer = await createIdentitySigner({ dataDir, keyring: createKeyring(randomBytes(32)), issuer: GATEWAY_ISSUER });
  const verifier = createIdentityVerifier({ jwks: signer.jwks(), issuer: GATEWAY_ISSUER, audience });
  const service = await start({ port: 0, host: '127.0.0.1', verifier, ...extra });
  t.after(async () => {
    await service.close();
    await verifier.close();
    await rm(dataDir, { recursive: true, force: true });
  });
  const attacker = await generateKeyPair('ES256');
  const publicJwk = signer.jwks().keys[0];

  const base = `http://127.0.0.1:${service.port}`;
  const tokenFor = (p: Principal) => signer.tokenFor(p, audience, 1);
  return {
    base,
    tokenFor,
    forged: async (p) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ rampart: { kind: p.kind, issuer: p.issuer, roles: [...p.roles], scopes: [], amr: [] } })
        .setProtectedHeader({ alg: 'ES256', typ: 'rampart-id+jwt', kid: publicJwk?.kid ?? 'x' })
        .setIssuer(GATEWAY_ISSUER)
        .setAudience(audience)
        .setSubject(p.subject)
        .setIssuedAt(now)
        .setExpirationTime(now + 60)
        .setJti('forged')
        .sign(attacker.privateKey);
    },
    call: async (method, path, options = {}) => {
      const headers: Record<string, string> = {};
      const token = options.token ?? (options.as === undefined ? undefined : await tokenFor(options.as));
      if (token !== undefined) headers['rampart-identity'] = token;
      let body: string | undefined;
      if (options.body !== undefined) {
        body = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
        headers['content-type'] = options.contentType ?? 'application/json';
      }
      const response = await fetch(`${base}${path}`, { method, headers, ...(body !== undefined && { body }) });
      const text = await response.text();
      return { status: response.status, headers: response.headers, body: text === '' ? undefined : JSON.parse(text) };
    },
  };
}
