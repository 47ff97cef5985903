/**
 * The Store over SQL, shared by SQLite and PostgreSQL so that both behave the same way by
 * construction (the contract suite then checks it). Single-use and compare-and-set operations are
 * single conditional statements (`UPDATE … WHERE … <`, `DELETE … WHERE …`): atomic in both
 * engines, across processes and instances, without read-then-write races.
 */
import type {
  ApiKeyRecord, AuditRecord, ClientRecord, DenyEntry, DenyKind, OidcArtefact, Store, UserChange, UserRecord,
} from '../types.ts';
import { StoreError } from '../errors.ts';
import { applyUserChange, assertStorable, lookupable, opt, type StoreClock } from '../records.ts';
import { applyMigrations } from './schema.ts';
import type { Row, SqlDb, SqlRunner, SqlValue } from './db.ts';

const json = (value: unknown): string => JSON.stringify(value);
const parse = <T>(text: unknown): T => JSON.parse(String(text)) as T;
const num = (v: unknown): number | undefined => (v === null || v === undefined ? undefined : Number(v));
const str = (v: unknown): string | undefined => (v === null || v === undefined ? undefined : String(v));
const nul = (v: string | number | undefined): SqlValue => v ?? null;

const TOUCH_SQL = 'UPDATE api_keys SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)';

const USER_COLUMNS = `u.id, u.username, u.display_name, u.email, u.password_hash, u.must_change_password, u.roles,
  u.totp_secret_sealed, u.totp_last_step, u.disabled, u.created_at, u.updated_at`;

function toUser(r: Row): UserRecord {
  return {
    id: String(r.id),
    username: String(r.username),
    ...opt('displayName', str(r.display_name)),
    ...opt('email', str(r.email)),
    passwordHash: String(r.password_hash),
    mustChangePassword: Boolean(r.must_change_password),
    roles: parse<string[]>(r.roles),
    ...opt('totpSecretSealed', str(r.totp_secret_sealed)),
    ...opt('totpLastStep', num(r.totp_last_step)),
    recoveryCodeHashes: r.codes === null || r.codes === undefined ? [] : parse<string[]>(r.codes),
    disabled: Boolean(r.disabled),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

function toClient(r: Row): ClientRecord {
  return {
    clientId: String(r.client_id),
    metadata: parse<Record<string, unknown>>(r.metadata),
    ...opt('secretHash', str(r.secret_hash)),
    ...opt('secretSealed', str(r.secret_sealed)),
    roles: parse<string[]>(r.roles),
    disabled: Boolean(r.disabled),
    createdAt: Number(r.created_at),
  };
}

function toKey(r: Row): ApiKeyRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    secretMac: String(r.secret_mac),
    pepperKid: String(r.pepper_kid),
    roles: parse<string[]>(r.roles),
    scopes: parse<string[]>(r.scopes),
    ...opt('expiresAt', num(r.expires_at)),
    ...opt('revokedAt', num(r.revoked_at)),
    ...opt('lastUsedAt', num(r.last_used_at)),
    createdAt: Number(r.created_at),
  };
}

function toDeny(r: Row): DenyEntry {
  return {
    kind: String(r.kind) as DenyKind,
    value: String(r.value),
    notBefore: Number(r.not_before),
    expiresAt: Number(r.expires_at),
    reason: String(r.reason),
    changedAt: Number(r.changed_at),
  };
}

function toArtefact(r: Row): OidcArtefact {
  return {
    model: String(r.model),
    idHash: String(r.id_hash),
    payload: parse<Record<string, unknown>>(r.payload),
    ...opt('grantId', str(r.grant_id)),
    ...opt('userCodeHash', str(r.user_code_hash)),
    ...opt('uid', str(r.uid)),
    expiresAt: Number(r.expires_at),
    ...opt('consumedAt', num(r.consumed_at)),
  };
}

function toAudit(r: Row): AuditRecord {
  return {
    at: Number(r.at),
    actor: String(r.actor),
    action: String(r.action),
    ...opt('target', str(r.target)),
    ...opt('detail', r.detail === null || r.detail === undefined ? undefined : parse<Record<string, unknown>>(r.detail)),
  };
}

async function writeCodes(tx: SqlRunner, userId: string, codes: readonly string[]): Promise<void> {
  await tx.run('DELETE FROM recovery_codes WHERE user_id = ?', [userId]);
  // Duplicates collapse: a code is a set member, and using it once removes it.
  const unique = [...new Set(codes)];
  for (const [i, code] of unique.entries()) await tx.run('INSERT INTO recovery_codes (user_id, code_hash, position) VALUES (?, ?, ?)', [userId, code, i]);
}

function userValues(u: UserRecord): SqlValue[] {
  return [
    u.username, nul(u.displayName), nul(u.email), u.passwordHash, u.mustChangePassword, json(u.roles), nul(u.totpSecretSealed),
    nul(u.totpLastStep), u.disabled, u.createdAt, u.updatedAt,
  ];
}

export function createSqlStore(db: SqlDb, now: StoreClock): Store {
  const d = db.dialect;
  const selectUsers = `SELECT ${USER_COLUMNS}, ${d.recoveryCodesJson} AS codes FROM users u`;

  return {
    kind: d.name,
    users: {
      async create(user) {
        assertStorable(user);
        await db.transaction(async (tx) => {
          await tx.run(
            `INSERT INTO users (id, username, display_name, email, password_hash, must_change_password, roles, totp_secret_sealed,
              totp_last_step, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
            [user.id, ...userValues(user)],
          );
          await writeCodes(tx, user.id, user.recoveryCodeHashes);
        });
      },
      async get(id) {
        if (!lookupable(id)) return undefined;
        const [r] = await db.all(`${selectUsers} WHERE u.id = ?`, [id]);
        return r && toUser(r);
      },
      async getByUsername(username) {
        if (!lookupable(username)) return undefined;
        const [r] = await db.all(`${selectUsers} WHERE u.username = ?`, [username]);
        return r && toUser(r);
      },
      async list() {
        return (await db.all(`${selectUsers} ORDER BY u.username`)).map(toUser);
      },
      async update(id: string, change: UserChange) {
        if (!lookupable(id)) return false;
        return db.transaction(async (tx) => {
          const [r] = await tx.all(`${selectUsers} WHERE u.id = ?${d.forUpdate}`, [id]);
          if (!r) return false;
          const next = applyUserChange(toUser(r), change, now());
          assertStorable(next);
          await tx.run(
            `UPDATE users SET username = ?, display_name = ?, email = ?, password_hash = ?, must_change_password = ?, roles = ?,
              totp_secret_sealed = ?, totp_last_step = ?, disabled = ?, created_at = ?, updated_at = ? WHERE id = ?`,
            [...userValues(next), id],
          );
          if ('recoveryCodeHashes' in change) await writeCodes(tx, id, next.recoveryCodeHashes);
          return true;
        });
      },
      async advanceTotpStep(id, step) {
        if (!lookupable(id)) return false;
        // RFC 6238 §5.2: a verifier must not accept the second attempt of the same OTP. One
        // conditional UPDATE: of concurrent callers (on any instance) exactly one changes the row.
        const n = await db.run('UPDATE users SET totp_last_step = ? WHERE id = ? AND (totp_last_step IS NULL OR totp_last_step < ?)', [step, id, step]);
        return n === 1;
      },
      async consumeRecoveryCode(id, codeHash) {
        if (!lookupable(id, codeHash)) return false;
        return (await db.run('DELETE FROM recovery_codes WHERE user_id = ? AND code_hash = ?', [id, codeHash])) === 1;
      },
    },
    clients: {
      async create(c) {
        assertStorable(c);
        await db.run(
          'INSERT INTO clients (client_id, metadata, secret_hash, secret_sealed, roles, disabled, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
          [c.clientId, json(c.metadata), nul(c.secretHash), nul(c.secretSealed), json(c.roles), c.disabled, c.createdAt],
        );
      },
      async get(clientId) {
        if (!lookupable(clientId)) return undefined;
        const [r] = await db.all('SELECT * FROM clients WHERE client_id = ?', [clientId]);
        return r && toClient(r);
      },
      async list() {
        return (await db.all('SELECT * FROM clients ORDER BY client_id')).map(toClient);
      },
      async remove(clientId) {
        if (!lookupable(clientId)) return false;
        return (await db.run('DELETE FROM clients WHERE client_id = ?', [clientId])) === 1;
      },
    },
    apiKeys: {
      async create(k) {
        assertStorable(k);
        await db.run(
          `INSERT INTO api_keys (id, name, secret_mac, pepper_kid, roles, scopes, expires_at, revoked_at, last_used_at, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          [k.id, k.name, k.secretMac, k.pepperKid, json(k.roles), json(k.scopes), nul(k.expiresAt), nul(k.revokedAt), nul(k.lastUsedAt), k.createdAt],
        );
      },
      async get(id) {
        if (!lookupable(id)) return undefined;
        const [r] = await db.all('SELECT * FROM api_keys WHERE id = ?', [id]);
        return r && toKey(r);
      },
      async list() {
        return (await db.all('SELECT * FROM api_keys ORDER BY created_at, id')).map(toKey);
      },
      async revoke(id, at) {
        if (!lookupable(id)) return false;
        return (await db.run('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL', [at, id])) === 1;
      },
      async replaceMac(id, from, to) {
        if (!lookupable(id, from.secretMac, from.pepperKid)) return false;
        assertStorable(to);
        const n = await db.run(
          'UPDATE api_keys SET secret_mac = ?, pepper_kid = ? WHERE id = ? AND secret_mac = ? AND pepper_kid = ?',
          [to.secretMac, to.pepperKid, id, from.secretMac, from.pepperKid],
        );
        return n === 1;
      },
      async touch(id, at) {
        if (!lookupable(id)) return;
        await db.run(TOUCH_SQL, [at, id, at]);
      },
      async touchMany(uses) {
        const valid = uses.filter(([id]) => lookupable(id));
        if (valid.length === 0) return;
        await db.transaction(async (tx) => {
          for (const [id, at] of valid) await tx.run(TOUCH_SQL, [at, id, at]);
        });
      },
    },
    denyList: {
      async add(e) {
        assertStorable(e);
        // A second entry for the same thing widens the first: the later cut-off and expiry win.
        await db.run(
          `INSERT INTO deny_list (kind, value, not_before, expires_at, reason, changed_at) VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (kind, value) DO UPDATE SET
              not_before = CASE WHEN excluded.not_before > deny_list.not_before THEN excluded.not_before ELSE deny_list.not_before END,
              expires_at = CASE WHEN excluded.expires_at > deny_list.expires_at THEN excluded.expires_at ELSE deny_list.expires_at END,
              reason = excluded.reason, changed_at = excluded.changed_at`,
          [e.kind, e.value, e.notBefore, e.expiresAt, e.reason, now()],
        );
      },
      async find(kind, value) {
        if (!lookupable(kind, value)) return undefined;
        const [r] = await db.all('SELECT * FROM deny_list WHERE kind = ? AND value = ? AND expires_at > ?', [kind, value, now()]);
        return r && toDeny(r);
      },
      async changedSince(since) {
        return (await db.all('SELECT * FROM deny_list WHERE changed_at >= ? AND expires_at > ? ORDER BY changed_at, kind, value', [since, now()])).map(toDeny);
      },
      async purgeExpired(at) {
        return db.run('DELETE FROM deny_list WHERE expires_at <= ?', [at]);
      },
    },
    oidc: {
      async upsert(a) {
        assertStorable(a);
        await db.run(
          `INSERT INTO oidc_artefacts (model, id_hash, payload, grant_id, user_code_hash, uid, expires_at, consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (model, id_hash) DO UPDATE SET payload = excluded.payload, grant_id = excluded.grant_id,
              user_code_hash = excluded.user_code_hash, uid = excluded.uid, expires_at = excluded.expires_at, consumed_at = excluded.consumed_at`,
          [a.model, a.idHash, json(a.payload), nul(a.grantId), nul(a.userCodeHash), nul(a.uid), a.expiresAt, nul(a.consumedAt)],
        );
      },
      async find(model, idHash) {
        if (!lookupable(model, idHash)) return undefined;
        const [r] = await db.all('SELECT * FROM oidc_artefacts WHERE model = ? AND id_hash = ? AND expires_at > ?', [model, idHash, now()]);
        return r && toArtefact(r);
      },
      async findByUid(model, uid) {
        if (!lookupable(model, uid)) return undefined;
        const [r] = await db.all('SELECT * FROM oidc_artefacts WHERE model = ? AND uid = ? AND expires_at > ? LIMIT 1', [model, uid, now()]);
        return r && toArtefact(r);
      },
      async findByUserCode(model, userCodeHash) {
        if (!lookupable(model, userCodeHash)) return undefined;
        const [r] = await db.all('SELECT * FROM oidc_artefacts WHERE model = ? AND user_code_hash = ? AND expires_at > ? LIMIT 1', [model, userCodeHash, now()]);
        return r && toArtefact(r);
      },
      async consume(model, idHash, at) {
        if (!lookupable(model, idHash)) return false;
        const n = await db.run(
          'UPDATE oidc_artefacts SET consumed_at = ? WHERE model = ? AND id_hash = ? AND consumed_at IS NULL AND expires_at > ?',
          [at, model, idHash, now()],
        );
        return n === 1;
      },
      async destroy(model, idHash) {
        if (!lookupable(model, idHash)) return;
        await db.run('DELETE FROM oidc_artefacts WHERE model = ? AND id_hash = ?', [model, idHash]);
      },
      async revokeByGrantId(grantId) {
        if (!lookupable(grantId)) return 0;
        return db.run('DELETE FROM oidc_artefacts WHERE grant_id = ?', [grantId]);
      },
      async listByAccount(model, accountId) {
        if (!lookupable(model, accountId)) return [];
        // The primary key (model, id_hash) narrows the scan to the model's rows.
        const rows = await db.all(`SELECT * FROM oidc_artefacts WHERE model = ? AND expires_at > ? AND ${d.payloadAccountId} = ?`, [model, now(), accountId]);
        return rows.map(toArtefact);
      },
      async purgeExpired(at) {
        return db.run('DELETE FROM oidc_artefacts WHERE expires_at <= ?', [at]);
      },
    },
    audit: {
      async append(r) {
        assertStorable(r);
        await db.run('INSERT INTO audit (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)', [
          r.at, r.actor, r.action, nul(r.target), r.detail === undefined ? null : json(r.detail),
        ]);
      },
      async list(options = {}) {
        const limit = options.limit === undefined ? '' : ` LIMIT ${Math.max(0, Math.floor(options.limit))}`;
        const rows = await db.all(`SELECT * FROM audit WHERE at >= ? ORDER BY at, seq${limit}`, [options.since ?? -1e15]);
        return rows.map(toAudit);
      },
    },
    async migrate() {
      await db.transaction(async (tx) => {
        await db.prepareMigration?.(tx);
        await applyMigrations(tx, d, now());
      });
    },
    close: () => db.close(),
  };
}

/** Keeps StoreError as is; anything else from a driver becomes RAMPART_STORE_UNAVAILABLE. */
export function asStoreError(err: unknown, conflict: boolean): StoreError {
  if (err instanceof StoreError) return err;
  if (conflict) return new StoreError('RAMPART_STORE_CONFLICT', 'A record with this id already exists.', { cause: err });
  return new StoreError('RAMPART_STORE_UNAVAILABLE', `The store failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
}
