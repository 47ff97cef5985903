/**
 * Test support for authn: throw-away signing keys, a token minter that can forge any header or
 * payload (attacks need exactly that), a built-in issuer double, and small store doubles for the
 * account records and the deny-list. Keys are generated per run, never committed.
 */
import { generateKeyPairSync, sign, createHmac, type KeyObject } from 'node:crypto';
import type { BuiltinIssuer, PublicJwks } from '../../core/authn-port.ts';
import type { ClientRecord, DenyEntry, DenyKind, Store, UserRecord } from '../../store/types.ts';

export type TestAlg = 'ES256' | 'ES384' | 'RS256' | 'PS256' | 'EdDSA';

export interface TestKey {
  readonly kid: string;
  readonly alg: TestAlg;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public JWK, with kid, alg and use. */
  readonly jwk: Record<string, unknown>;
}

export function makeKey(alg: TestAlg = 'ES256', kid = `k-${alg}-${Math.random().toString(36).slice(2, 8)}`): TestKey {
  const pair =
    alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'ES384' ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
    : alg === 'EdDSA' ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...pair.publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
}

const b64 = (v: unknown): string => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Signs `payload` with `key` under exactly `header` (nothing added), or with an HMAC secret. */
export function signToken(header: Record<string, unknown>, payload: Record<string, unknown> | string, key: TestKey | { hmac: Buffer | string }): string {
  const input = `${b64(header)}.${b64(payload)}`;
  const alg = String(header.alg);
  let sig: Buffer;
  if ('hmac' in key) sig = createHmac(`sha${alg.slice(2)}`, key.hmac).update(input).digest();
  else if (key.alg === 'EdDSA') sig = sign(null, Buffer.from(input), key.privateKey);
  else if (key.alg.startsWith('ES')) sig = sign(`sha${key.alg.slice(2)}`, Buffer.from(input), { key: key.privateKey, dsaEncoding: 'ieee-p1363' });
  else if (key.alg.startsWith('PS')) sig = sign('sha256', Buffer.from(input), { key: key.privateKey, padding: 6, saltLength: 32 });
  else sig = sign('sha256', Buffer.from(input), key.privateKey);
  return `${input}.${sig.toString('base64url')}`;
}

export const now = (): number => Math.floor(Date.now() / 1000);

/** A token the way the built-in server issues them (RFC 9068), with overrides. */
export function accessToken(key: TestKey, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  const t = now();
  return signToken(
    { alg: key.alg, typ: 'at+jwt', kid: key.kid, ...header },
    { iat: t, exp: t + 300, jti: `jti-${Math.random().toString(36).slice(2)}`, ...claims },
    key,
  );
}

export class TestBuiltinIssuer implements BuiltinIssuer {
  readonly issuer: string;
  readonly audiences: readonly string[];
  keys: TestKey[];
  readonly #listeners = new Set<() => void>();

  constructor(issuer: string, audiences: readonly string[], keys: TestKey[]) {
    this.issuer = issuer;
    this.audiences = audiences;
    this.keys = keys;
  }

  jwks(): PublicJwks {
    return { keys: this.keys.map((k) => k.jwk) };
  }

  onKeysChanged(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  rotate(keys: TestKey[]): void {
    this.keys = keys;
    for (const l of this.#listeners) l();
  }

  get listeners(): number {
    return this.#listeners.size;
  }
}

/** Users, clients and the deny-list in memory, with a switch that makes every call fail. */
export function accountsDouble(): Pick<Store, 'users' | 'clients' | 'denyList'> & {
  failing: boolean;
  reads: number;
  addUser(id: string, roles?: string[], disabled?: boolean): void;
  addClient(id: string, roles?: string[]): void;
  deny(kind: DenyKind, value: string, notBefore?: number): void;
} {
  const users = new Map<string, UserRecord>();
  const clients = new Map<string, ClientRecord>();
  const deny = new Map<string, DenyEntry>();
  let clock = 0;
  const self = {
    failing: false,
    reads: 0,
    addUser(id: string, roles: string[] = [], disabled = false) {
      const t = now();
      users.set(id, { id, username: id, passwordHash: 'x', mustChangePassword: false, roles, recoveryCodeHashes: [], disabled, createdAt: t, updatedAt: t });
    },
    addClient(id: string, roles: string[] = []) {
      clients.set(id, { clientId: id, metadata: {}, roles, disabled: false, createdAt: now() });
    },
    deny(kind: DenyKind, value: string, notBefore = now()) {
      deny.set(`${kind}|${value}`, { kind, value, notBefore, expiresAt: now() + 3600, reason: 'test', changedAt: ++clock });
    },
    users: {
      async get(id: string) {
        self.reads++;
        if (self.failing) throw new Error('store down');
        return users.get(id);
      },
    } as unknown as Store['users'],
    clients: {
      async get(id: string) {
        self.reads++;
        if (self.failing) throw new Error('store down');
        return clients.get(id);
      },
    } as unknown as Store['clients'],
    denyList: {
      async changedSince(since: number) {
        if (self.failing) throw new Error('store down');
        return [...deny.values()].filter((e) => (e.changedAt ?? 0) >= since);
      },
    } as unknown as Store['denyList'],
  };
  return self;
}
