/**
 * oidc-provider's adapter over Rampart's store (`Store.oidc`, `Store.clients`).
 *
 * S4: artefacts are keyed by SHA-256 of their id and the id itself (the opaque token, the session
 * cookie value, the device user code) is removed from the stored payload; `find` puts it back from
 * the id the caller already holds. Consumption is an atomic compare-and-set in the store: a second
 * redemption of an authorization code, device code or rotated refresh token — even one racing the
 * first — revokes the whole grant (RFC 9700 §2.2.2, §4.14.2; RFC 6749 §4.1.2).
 */
import { createHash } from 'node:crypto';
import { errors } from 'oidc-provider';
import type { OidcArtefact, Store } from '../store/types.ts';

export const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');
const now = (): number => Math.floor(Date.now() / 1000);
const DEFAULT_TTL = 14 * 86400;

export interface AdapterDeps {
  readonly store: Store;
  /**
   * Seals a device code's id inside its own record (keyring 'oidc-artefacts', AAD = its hash): the
   * user's browser finds the code by user code, and the provider must save it back under its id.
   */
  readonly sealId: (id: string, idHash: string) => string;
  readonly openId: (sealed: string, idHash: string) => string;
  /** A code or refresh token was presented again: the grant is revoked (store and deny-list). */
  readonly onReplay: (grantId: string, model: string) => Promise<void>;
}

type Payload = Record<string, unknown>;

export function adapterFactory(deps: AdapterDeps): (model: string) => StoreAdapter {
  return (model: string) => new StoreAdapter(model, deps);
}

export class StoreAdapter {
  readonly model: string;
  readonly #deps: AdapterDeps;

  constructor(model: string, deps: AdapterDeps) {
    this.model = model;
    this.#deps = deps;
  }

  async upsert(id: string, payload: Payload, expiresIn?: number): Promise<void> {
    if (this.model === 'Client') throw new Error('clients are managed with `rampart clients`, not through the provider');
    const { jti: _jti, userCode, ...rest } = payload;
    const idHash = sha256(id);
    if (this.model === 'DeviceCode') rest.sealedId = this.#deps.sealId(id, idHash);
    let userCodeHash = typeof userCode === 'string' ? sha256(userCode) : undefined;
    if (userCodeHash === undefined && this.model === 'DeviceCode') userCodeHash = (await this.#deps.store.oidc.find(this.model, idHash))?.userCodeHash;
    const artefact: OidcArtefact = {
      model: this.model,
      idHash,
      payload: rest,
      expiresAt: now() + (typeof expiresIn === 'number' ? expiresIn : DEFAULT_TTL),
      ...(typeof payload.grantId === 'string' ? { grantId: payload.grantId } : {}),
      ...(typeof payload.uid === 'string' ? { uid: payload.uid } : {}),
      ...(userCodeHash ? { userCodeHash } : {}),
    };
    await this.#deps.store.oidc.upsert(artefact);
  }

  async find(id: string): Promise<Payload | undefined> {
    if (typeof id !== 'string' || id.length === 0 || id.length > 512) return undefined;
    if (this.model === 'Client') return this.#client(id);
    return this.#revive(await this.#deps.store.oidc.find(this.model, sha256(id)), id);
  }

  async findByUserCode(userCode: string): Promise<Payload | undefined> {
    if (typeof userCode !== 'string' || userCode.length > 64) return undefined;
    const found = await this.#deps.store.oidc.findByUserCode(this.model, sha256(userCode));
    if (!found) return undefined;
    const sealed = found.payload.sealedId;
    const payload = this.#revive(found, typeof sealed === 'string' ? this.#deps.openId(sealed, found.idHash) : undefined);
    return payload ? { ...payload, userCode } : undefined;
  }

  async findByUid(uid: string): Promise<Payload | undefined> {
    if (typeof uid !== 'string' || uid.length > 256) return undefined;
    const found = await this.#deps.store.oidc.findByUid(this.model, uid);
    // Read-only uses (is the session still there, whose is it): the session id stays unknown here.
    return this.#revive(found, undefined);
  }

  async consume(id: string): Promise<void> {
    const idHash = sha256(id);
    const won = await this.#deps.store.oidc.consume(this.model, idHash, now());
    if (won) return;
    // Lost the race (or a replay): whoever presented it twice loses the whole grant.
    const found = await this.#deps.store.oidc.find(this.model, idHash);
    if (typeof found?.grantId === 'string') await this.#deps.onReplay(found.grantId, this.model);
    throw new errors.InvalidGrant('grant request is invalid');
  }

  async destroy(id: string): Promise<void> {
    await this.#deps.store.oidc.destroy(this.model, sha256(id));
  }

  async revokeByGrantId(grantId: string): Promise<void> {
    await this.#deps.store.oidc.revokeByGrantId(grantId);
  }

  #revive(found: OidcArtefact | undefined, id: string | undefined): Payload | undefined {
    if (!found || found.expiresAt <= now()) return undefined;
    const { sealedId: _sealed, ...rest } = found.payload as Payload;
    const payload: Payload = { ...rest };
    if (id !== undefined) payload.jti = id;
    if (found.consumedAt !== undefined) payload.consumed = found.consumedAt;
    return payload;
  }

  async #client(id: string): Promise<Payload | undefined> {
    const c = await this.#deps.store.clients.get(id);
    if (!c || c.disabled) return undefined;
    const meta: Payload = { ...c.metadata, client_id: c.clientId };
    // The secret itself is never stored (S4): the hash stands in the metadata, and
    // compareClientSecret (provider.ts) verifies against it.
    if (c.secretHash) meta.client_secret = c.secretHash.startsWith('sha256:') ? c.secretHash : `sha256:${c.secretHash}`;
    return meta;
  }
}
