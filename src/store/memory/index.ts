/**
 * The in-memory store: for unit tests only (nothing persists, nothing is shared between processes).
 * It passes the same contract suite as SQLite and PostgreSQL (src/store/contract.ts).
 */
import type {
  ApiKeyRecord, AuditRecord, ClientRecord, DenyEntry, DenyKind, EpochSeconds, OidcArtefact, Store, UserChange, UserRecord,
} from '../types.ts';
import { StoreError } from '../errors.ts';
import { applyUserChange, assertStorable, epochNow, lookupable, type StoreClock } from '../records.ts';

export interface MemoryStoreOptions {
  /** The store's clock (seconds), for expiry; tests move it. */
  readonly now?: StoreClock;
}

const copy = <T>(value: T): T => structuredClone(value);

export function createMemoryStore(options: MemoryStoreOptions = {}): Store {
  const now = options.now ?? epochNow;
  const users = new Map<string, UserRecord>();
  const clients = new Map<string, ClientRecord>();
  const keys = new Map<string, ApiKeyRecord>();
  const deny = new Map<string, DenyEntry>();
  const oidc = new Map<string, OidcArtefact>();
  const audit: AuditRecord[] = [];
  let closed = false;
  const open = (): void => {
    if (closed) throw new StoreError('RAMPART_STORE_CLOSED', 'The store is closed.');
  };
  const live = (a: { readonly expiresAt: EpochSeconds }): boolean => a.expiresAt > now();
  const oidcKey = (model: string, idHash: string): string => `${model}\u0000${idHash}`;
  const denyKey = (kind: DenyKind, value: string): string => `${kind}\u0000${value}`;
  const findOidc = (pred: (a: OidcArtefact) => boolean): OidcArtefact | undefined => {
    for (const a of oidc.values()) if (pred(a) && live(a)) return copy(a);
    return undefined;
  };

  return {
    kind: 'memory',
    users: {
      async create(user) {
        open();
        assertStorable(user);
        if (users.has(user.id) || [...users.values()].some((u) => u.username === user.username)) {
          throw new StoreError('RAMPART_STORE_CONFLICT', `A user with id ${user.id} or username ${user.username} exists.`);
        }
        users.set(user.id, copy(user));
      },
      async get(id) {
        open();
        const u = lookupable(id) ? users.get(id) : undefined;
        return u && copy(u);
      },
      async getByUsername(username) {
        open();
        const u = [...users.values()].find((x) => x.username === username);
        return u && copy(u);
      },
      async list() {
        open();
        return [...users.values()].sort((a, b) => (a.username < b.username ? -1 : a.username > b.username ? 1 : 0)).map(copy);
      },
      async update(id: string, change: UserChange) {
        open();
        const u = users.get(id);
        if (!u) return false;
        const next = applyUserChange(u, change, now());
        assertStorable(next);
        if (next.username !== u.username && [...users.values()].some((x) => x.username === next.username)) {
          throw new StoreError('RAMPART_STORE_CONFLICT', `Username ${next.username} is taken.`);
        }
        users.set(id, copy(next));
        return true;
      },
      async advanceTotpStep(id, step) {
        open();
        const u = users.get(id);
        if (!u || (u.totpLastStep !== undefined && u.totpLastStep >= step)) return false;
        users.set(id, { ...u, totpLastStep: step });
        return true;
      },
      async consumeRecoveryCode(id, codeHash) {
        open();
        const u = users.get(id);
        if (!u || !u.recoveryCodeHashes.includes(codeHash)) return false;
        users.set(id, { ...u, recoveryCodeHashes: u.recoveryCodeHashes.filter((h) => h !== codeHash) });
        return true;
      },
    },
    clients: {
      async create(client) {
        open();
        assertStorable(client);
        if (clients.has(client.clientId)) throw new StoreError('RAMPART_STORE_CONFLICT', `A client with id ${client.clientId} exists.`);
        clients.set(client.clientId, copy(client));
      },
      async get(clientId) {
        open();
        const c = clients.get(clientId);
        return c && copy(c);
      },
      async list() {
        open();
        return [...clients.values()].sort((a, b) => (a.clientId < b.clientId ? -1 : 1)).map(copy);
      },
      async remove(clientId) {
        open();
        return clients.delete(clientId);
      },
    },
    apiKeys: {
      async create(key) {
        open();
        assertStorable(key);
        if (keys.has(key.id)) throw new StoreError('RAMPART_STORE_CONFLICT', `An API key with id ${key.id} exists.`);
        keys.set(key.id, copy(key));
      },
      async get(id) {
        open();
        const k = keys.get(id);
        return k && copy(k);
      },
      async list() {
        open();
        return [...keys.values()].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map(copy);
      },
      async revoke(id, at) {
        open();
        const k = keys.get(id);
        if (!k || k.revokedAt !== undefined) return false;
        keys.set(id, { ...k, revokedAt: at });
        return true;
      },
      async replaceMac(id, from, to) {
        open();
        const k = keys.get(id);
        if (!k || k.secretMac !== from.secretMac || k.pepperKid !== from.pepperKid) return false;
        keys.set(id, { ...k, secretMac: to.secretMac, pepperKid: to.pepperKid });
        return true;
      },
      async touch(id, at) {
        open();
        const k = keys.get(id);
        if (k && (k.lastUsedAt === undefined || k.lastUsedAt < at)) keys.set(id, { ...k, lastUsedAt: at });
      },
      async touchMany(uses) {
        open();
        for (const [id, at] of uses) {
          const k = keys.get(id);
          if (k && (k.lastUsedAt === undefined || k.lastUsedAt < at)) keys.set(id, { ...k, lastUsedAt: at });
        }
      },
    },
    denyList: {
      async add(entry) {
        open();
        assertStorable(entry);
        const key = denyKey(entry.kind, entry.value);
        const old = deny.get(key);
        deny.set(key, {
          kind: entry.kind,
          value: entry.value,
          notBefore: Math.max(entry.notBefore, old?.notBefore ?? -Infinity),
          expiresAt: Math.max(entry.expiresAt, old?.expiresAt ?? -Infinity),
          reason: entry.reason,
          changedAt: now(),
        });
      },
      async find(kind, value) {
        open();
        const e = deny.get(denyKey(kind, value));
        return e && live(e) ? copy(e) : undefined;
      },
      async changedSince(since) {
        open();
        return [...deny.values()].filter((e) => (e.changedAt ?? 0) >= since && live(e)).sort((a, b) => (a.changedAt ?? 0) - (b.changedAt ?? 0)).map(copy);
      },
      async purgeExpired(at) {
        open();
        let n = 0;
        for (const [k, e] of deny) if (e.expiresAt <= at && deny.delete(k)) n++;
        return n;
      },
    },
    oidc: {
      async upsert(artefact) {
        open();
        assertStorable(artefact);
        oidc.set(oidcKey(artefact.model, artefact.idHash), copy(artefact));
      },
      async find(model, idHash) {
        open();
        const a = oidc.get(oidcKey(model, idHash));
        return a && live(a) ? copy(a) : undefined;
      },
      async findByUid(model, uid) {
        open();
        return findOidc((a) => a.model === model && a.uid === uid);
      },
      async findByUserCode(model, userCodeHash) {
        open();
        return findOidc((a) => a.model === model && a.userCodeHash === userCodeHash);
      },
      async consume(model, idHash, at) {
        open();
        const key = oidcKey(model, idHash);
        const a = oidc.get(key);
        if (!a || !live(a) || a.consumedAt !== undefined) return false;
        oidc.set(key, { ...a, consumedAt: at });
        return true;
      },
      async destroy(model, idHash) {
        open();
        oidc.delete(oidcKey(model, idHash));
      },
      async revokeByGrantId(grantId) {
        open();
        let n = 0;
        for (const [k, a] of oidc) if (a.grantId === grantId && oidc.delete(k)) n++;
        return n;
      },
      async listByAccount(model, accountId) {
        open();
        return [...oidc.values()].filter((a) => a.model === model && a.payload.accountId === accountId && live(a)).map(copy);
      },
      async purgeExpired(at) {
        open();
        let n = 0;
        for (const [k, a] of oidc) if (a.expiresAt <= at && oidc.delete(k)) n++;
        return n;
      },
    },
    audit: {
      async append(record) {
        open();
        assertStorable(record);
        audit.push(copy(record));
      },
      async list(opts = {}) {
        open();
        const since = opts.since ?? -Infinity;
        const rows = audit.map((r, i) => ({ r, i })).filter(({ r }) => r.at >= since).sort((a, b) => a.r.at - b.r.at || a.i - b.i).map(({ r }) => copy(r));
        return opts.limit === undefined ? rows : rows.slice(0, opts.limit);
      },
    },
    async migrate() {
      open();
    },
    async close() {
      closed = true;
    },
  };
}
