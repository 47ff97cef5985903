/**
 * The storage interface (DESIGN.md "State" and "Storage"): one Promise-based contract, implemented
 * by the embedded SQLite store (node:sqlite, default) and by PostgreSQL (cluster mode); an
 * in-memory implementation exists for unit tests only. One contract test suite runs against every
 * backend (src/store/contract.ts).
 *
 * Secrets at rest (S4): the store never sees a raw password, token, API key secret or TOTP secret.
 * Callers pass hashes (passwords: Argon2id/scrypt PHC strings; API keys: HMAC-SHA-256 with the
 * pepper subkey; authorization-server artefacts: keyed by SHA-256 of their id) or envelopes sealed
 * with the keyring (TOTP secrets, signing keys), with the row id as associated data.
 *
 * Common rules (the contract suite checks each): `create` rejects with a StoreError
 * `RAMPART_STORE_CONFLICT` when the id (or, for users, the username) exists; a backend failure
 * rejects with `RAMPART_STORE_UNAVAILABLE` (callers fail closed); records come back as copies
 * (changing one never changes the store); lists are ordered (users by username,
 * clients by client id, API keys by creation then id, audit records by time then insertion).
 * Expired deny-list entries and OIDC artefacts are never returned, even before a purge.
 */

/** Seconds since the epoch. */
export type EpochSeconds = number;

export interface UserRecord {
  /** Stable subject id (`sub`), e.g. `alice`. Identity is (issuer, kind 'user', id) — S3. */
  readonly id: string;
  /** Login name, unique, NFKC-normalised and lower-cased by the caller. */
  readonly username: string;
  readonly displayName?: string;
  readonly email?: string;
  /** PHC string (Argon2id or scrypt); never a raw password. */
  readonly passwordHash: string;
  /** The password was set by an administrator (or printed by the demo): change it at first login (S7). */
  readonly mustChangePassword: boolean;
  /** Roles bound to the user in the store (config bindings add to them at the gateway). */
  readonly roles: readonly string[];
  /** TOTP secret sealed with the keyring ('totp-secrets', AAD = user id); undefined until enrolled. */
  readonly totpSecretSealed?: string;
  /** The last accepted TOTP time step: advances only by compare-and-set (S7, no replay across instances). */
  readonly totpLastStep?: number;
  /** SHA-256 (hex) of each unused recovery code (≥ 112 bits each, single use). */
  readonly recoveryCodeHashes: readonly string[];
  readonly disabled: boolean;
  readonly createdAt: EpochSeconds;
  readonly updatedAt: EpochSeconds;
}

export interface ClientRecord {
  readonly clientId: string;
  /** The oidc-provider client metadata (redirect_uris, grant_types, …) as JSON. */
  readonly metadata: Readonly<Record<string, unknown>>;
  /** Hash of the client secret (confidential clients), never the secret. */
  readonly secretHash?: string;
  /**
   * The client secret sealed with the keyring ('client-secrets', AAD = client id), for
   * oidc-provider, which needs the secret itself (client_secret_jwt, HS* signing) — S4 allows
   * "hashed or encrypted".
   */
  readonly secretSealed?: string;
  readonly roles: readonly string[];
  readonly disabled: boolean;
  readonly createdAt: EpochSeconds;
}

export interface ApiKeyRecord {
  /** The public prefix id of `rmp_<id>_<secret><checksum>` (S4). */
  readonly id: string;
  readonly name: string;
  /** HMAC-SHA-256 of the secret with the pepper subkey, hex; compared in constant time. */
  readonly secretMac: string;
  /** Key id of the pepper subkey that made secretMac (master-key rotation). */
  readonly pepperKid: string;
  readonly roles: readonly string[];
  readonly scopes: readonly string[];
  readonly expiresAt?: EpochSeconds;
  readonly revokedAt?: EpochSeconds;
  readonly lastUsedAt?: EpochSeconds;
  readonly createdAt: EpochSeconds;
}

/** What a deny-list entry withdraws (S9). */
export type DenyKind = 'grant' | 'subject' | 'client' | 'key';

export interface DenyEntry {
  readonly kind: DenyKind;
  /** grant id, `issuer|kind|subject`, client id or API key id. */
  readonly value: string;
  /** Tokens issued before this instant are refused (for 'subject'/'client': a cut-off, not forever). */
  readonly notBefore: EpochSeconds;
  /** The entry can be forgotten after this (the longest lifetime of what it withdraws). */
  readonly expiresAt: EpochSeconds;
  readonly reason: string;
  /**
   * Set by the store (its own clock) when the entry was last added or changed; ignored on `add`.
   * Pollers keep the highest one seen and pass it back to `changedSince` (inclusive).
   */
  readonly changedAt?: EpochSeconds;
}

/**
 * Authorization-server artefacts (oidc-provider's adapter contract: Session, AccessToken,
 * AuthorizationCode, RefreshToken, DeviceCode, Grant, Interaction, …), keyed by model name and
 * SHA-256 of the artefact id (S4) — never the raw token.
 */
export interface OidcArtefact {
  readonly model: string;
  /** SHA-256 (hex) of the artefact id. */
  readonly idHash: string;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly grantId?: string;
  /** SHA-256 of the device flow's user code, when any. */
  readonly userCodeHash?: string;
  readonly uid?: string;
  readonly expiresAt: EpochSeconds;
  readonly consumedAt?: EpochSeconds;
}

export interface AuditRecord {
  readonly at: EpochSeconds;
  readonly actor: string;
  readonly action: string;
  readonly target?: string;
  readonly detail?: Readonly<Record<string, unknown>>;
}

/**
 * A change to a user: only the keys present are written. An optional field given as `undefined`
 * is cleared (e.g. `{ totpSecretSealed: undefined, totpLastStep: undefined }` resets MFA).
 */
export type UserChange = {
  readonly [K in keyof Omit<UserRecord, 'id' | 'createdAt'>]?: Omit<UserRecord, 'id' | 'createdAt'>[K] | (undefined extends UserRecord[K] ? undefined : never);
};

export interface UserStore {
  create(user: UserRecord): Promise<void>;
  get(id: string): Promise<UserRecord | undefined>;
  getByUsername(username: string): Promise<UserRecord | undefined>;
  list(): Promise<UserRecord[]>;
  /** Applies the change; returns false when the user does not exist. */
  update(id: string, change: UserChange): Promise<boolean>;
  /**
   * Advances the last accepted TOTP step to `step` only if it is greater than the stored one
   * (atomic compare-and-set across instances, S7). Returns true when this caller won.
   */
  advanceTotpStep(id: string, step: number): Promise<boolean>;
  /** Removes one recovery code hash atomically; true when it was present (single use). */
  consumeRecoveryCode(id: string, codeHash: string): Promise<boolean>;
}

export interface ClientStore {
  create(client: ClientRecord): Promise<void>;
  get(clientId: string): Promise<ClientRecord | undefined>;
  list(): Promise<ClientRecord[]>;
  remove(clientId: string): Promise<boolean>;
}

export interface ApiKeyStore {
  create(key: ApiKeyRecord): Promise<void>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  list(): Promise<ApiKeyRecord[]>;
  revoke(id: string, at: EpochSeconds): Promise<boolean>;
  /** Best effort, may be batched: never on the critical path of a request. Keeps the latest time. */
  touch(id: string, at: EpochSeconds): Promise<void>;
  /** `touch` for many keys in one transaction (one durable write on SQLite, one round trip's worth on PostgreSQL). */
  touchMany(uses: ReadonlyArray<readonly [id: string, at: EpochSeconds]>): Promise<void>;
  /**
   * Replaces the MAC made with an older pepper (master-key rotation, S4) by one made with the
   * current pepper; only if the stored MAC is still `from` (compare-and-set). True when replaced.
   */
  replaceMac(id: string, from: { readonly secretMac: string; readonly pepperKid: string }, to: { readonly secretMac: string; readonly pepperKid: string }): Promise<boolean>;
}

export interface DenyList {
  add(entry: DenyEntry): Promise<void>;
  /** Entries of a kind for a value (usually zero or one). */
  find(kind: DenyKind, value: string): Promise<DenyEntry | undefined>;
  /** Every live entry changed since `since` (instances poll this or subscribe, to keep a local copy). */
  changedSince(since: EpochSeconds): Promise<DenyEntry[]>;
  purgeExpired(now: EpochSeconds): Promise<number>;
}

export interface OidcStore {
  upsert(artefact: OidcArtefact): Promise<void>;
  find(model: string, idHash: string): Promise<OidcArtefact | undefined>;
  findByUid(model: string, uid: string): Promise<OidcArtefact | undefined>;
  findByUserCode(model: string, userCodeHash: string): Promise<OidcArtefact | undefined>;
  /** Marks consumed; returns false when it already was (single use, e.g. authorization codes). */
  consume(model: string, idHash: string, at: EpochSeconds): Promise<boolean>;
  destroy(model: string, idHash: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<number>;
  /**
   * The live artefacts of one model whose payload names this account (`accountId`, oidc-provider's
   * field on sessions, grants, codes and refresh tokens): what signing a user out everywhere
   * removes. Rare (a password change), so it reads that model's rows rather than an index.
   */
  listByAccount(model: string, accountId: string): Promise<OidcArtefact[]>;
  purgeExpired(now: EpochSeconds): Promise<number>;
}

export interface AuditTrail {
  append(record: AuditRecord): Promise<void>;
  list(options?: { since?: EpochSeconds; limit?: number }): Promise<AuditRecord[]>;
}

export interface Store {
  readonly kind: 'sqlite' | 'postgres' | 'memory';
  readonly users: UserStore;
  readonly clients: ClientStore;
  readonly apiKeys: ApiKeyStore;
  readonly denyList: DenyList;
  readonly oidc: OidcStore;
  readonly audit: AuditTrail;
  /** Creates or migrates the schema; idempotent. */
  migrate(): Promise<void>;
  close(): Promise<void>;
}
