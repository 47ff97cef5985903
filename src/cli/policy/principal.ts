/**
 * Who a `rampart policy` question is about: `--as user:alice` (or a table row's `as`) made into
 * the Principal the authn stage would hand to authz. Identity is issuer + kind + subject (S3): the
 * issuer is the built-in server's unless `--issuer` names another, `api-keys` for `key:`. Roles are
 * `--roles` when given; otherwise resolved as the gateway resolves them (authn's resolveRoles):
 * config bindings of that issuer plus the record of the user, client or key in the store, when the
 * store can be read. Scopes default to every scope the route's rules need ("not narrowed").
 */
import type { RootConfig } from '../../config/types.ts';
import type { Principal } from '../../core/principal.ts';
import type { GatewayError } from '../../errors/problem.ts';
import { ANONYMOUS } from '../../core/principal.ts';
import { BUILTIN_ID, parseSubject, type Binding } from '../../stages/authn/config.ts';
import { bindingIndex, resolveRoles } from '../../stages/authn/roles.ts';
import { invalidApiKey, invalidToken, type ChallengeSchemes } from '../../stages/authn/challenge.ts';
import { API_KEY_ISSUER_ID, API_KEY_ISSUER_URL } from '../../stages/authz/issuers.ts';
import type { ReadOnlyStore } from './store.ts';

export type AsSubject = { readonly kind: 'anonymous' } | { readonly kind: 'user' | 'client' | 'key'; readonly id: string };

const ID = /^[^\s:][^\s]{0,254}$/;

/** `user:alice`, `client:ID`, `key:ID`, a bare name (a user), or `anonymous`; a string is the complaint. */
export function parseAs(text: string): AsSubject | string {
  if (text === 'anonymous') return { kind: 'anonymous' };
  const s = parseSubject(text);
  if (!ID.test(s.id)) return `"${text.slice(0, 60)}" is not a subject: user:NAME, client:ID, key:ID, a bare user name, or anonymous`;
  return { kind: s.kind, id: s.id };
}

export function formatAs(as: AsSubject): string {
  return as.kind === 'anonymous' ? 'anonymous' : `${as.kind}:${as.id}`;
}

export interface PrincipalQuestion {
  readonly as: AsSubject;
  /** Issuer id: `builtin`, an `authentication.issuers[].id`, or `api-keys` (the default for keys). */
  readonly issuer?: string;
  readonly roles?: readonly string[];
  readonly scopes?: readonly string[];
  readonly amr?: readonly string[];
  /** Seconds since the login (auth_time = now - authAge); users only. */
  readonly authAge?: number;
  /** Milliseconds since the epoch. */
  readonly now: number;
}

export interface ResolvedPrincipal {
  readonly principal: Principal;
  readonly issuerId: string | undefined;
  /** Where the roles came from, for the output. */
  readonly rolesFrom: string;
  /** Scopes were not given: every scope the route needs is assumed. */
  readonly scopesAssumed: boolean;
  readonly notes: readonly string[];
  /** Authentication would already refuse this caller (a missing or disabled record, a revoked key). */
  readonly refused?: GatewayError;
}

export class PrincipalError extends Error {}

/** The issuer id and URL of a subject; throws PrincipalError when the config has no such issuer. */
export function issuerOf(root: RootConfig, as: AsSubject, issuerId: string | undefined): { id: string; url: string; bindings: readonly Binding[]; claimMapped: boolean } {
  const auth = root.authentication;
  if (as.kind === 'key') {
    if (issuerId !== undefined && issuerId !== API_KEY_ISSUER_ID) throw new PrincipalError(`a key: subject belongs to the issuer ${API_KEY_ISSUER_ID}, not "${issuerId}"`);
    return { id: API_KEY_ISSUER_ID, url: API_KEY_ISSUER_URL, bindings: auth.apiKeys.bindings, claimMapped: false };
  }
  const known = [...(root.authServer ? [BUILTIN_ID] : []), ...auth.issuers.map((i) => i.id)];
  const id = issuerId ?? (root.authServer ? BUILTIN_ID : undefined);
  if (id === undefined) {
    throw new PrincipalError(known.length ? `no built-in authorization server: name the issuer with --issuer (${known.join(', ')})` : 'no token issuer is configured: only key: subjects and anonymous callers exist');
  }
  if (id === BUILTIN_ID && root.authServer) return { id, url: root.authServer.issuer, bindings: auth.builtin.bindings, claimMapped: false };
  const ext = auth.issuers.find((i) => i.id === id);
  if (!ext) throw new PrincipalError(`unknown issuer "${id}"${known.length ? ` (configured: ${known.join(', ')})` : ''}`);
  return { id, url: ext.issuer, bindings: ext.bindings, claimMapped: ext.roles !== undefined };
}

/**
 * The principal of a question. `neededScopes` are the scopes the route's rules need (the default
 * when the question gives none).
 */
export async function resolvePrincipal(root: RootConfig, q: PrincipalQuestion, store: ReadOnlyStore, neededScopes: readonly string[], schemes: ChallengeSchemes): Promise<ResolvedPrincipal> {
  const as = q.as;
  if (as.kind === 'anonymous') {
    return { principal: ANONYMOUS, issuerId: undefined, rolesFrom: 'none (no credentials)', scopesAssumed: false, notes: [] };
  }
  const issuer = issuerOf(root, as, q.issuer);
  const notes: string[] = [];
  let roles: readonly string[];
  let rolesFrom: string;
  let recordScopes: readonly string[] | undefined;
  let refused: GatewayError | undefined;
  if (q.roles) {
    roles = [...q.roles];
    rolesFrom = 'given';
  } else {
    let recordRoles: readonly string[] | undefined;
    const nowSeconds = Math.floor(q.now / 1000);
    if (as.kind === 'key') {
      const found = await store.read(async (s) => ({ key: await s.apiKeys.get(as.id) }));
      if (found) {
        const k = found.key;
        if (!k) refused = invalidApiKey(schemes, 'key unknown');
        else if (k.revokedAt !== undefined) refused = invalidApiKey(schemes, 'key revoked');
        else if (k.expiresAt !== undefined && k.expiresAt <= nowSeconds) refused = invalidApiKey(schemes, 'key expired');
        if (k) {
          recordRoles = k.roles;
          recordScopes = k.scopes;
        }
      }
    } else if (issuer.id === BUILTIN_ID) {
      // The gateway reads the record of the token's subject (the user's or client's id).
      const found = await store.read(async (s) => ({ record: as.kind === 'user' ? await s.users.get(as.id) : await s.clients.get(as.id) }));
      if (found) {
        const r = found.record;
        if (!r) refused = invalidToken(schemes, 'RAMPART_AUTHN_TOKEN_REVOKED', `${as.kind} ${as.id} does not exist in the store`);
        else if (r.disabled) refused = invalidToken(schemes, 'RAMPART_AUTHN_TOKEN_REVOKED', `${as.kind} ${as.id} is disabled`);
        if (r) recordRoles = r.roles;
      }
    }
    if (issuer.claimMapped) notes.push(`roles the issuer ${issuer.id} maps from its token's claim are not known here: give --roles`);
    roles = resolveRoles(as.kind, as.id, bindingIndex(issuer.bindings), [], undefined, recordRoles);
    rolesFrom = recordRoles !== undefined ? 'config bindings + store record' : 'config bindings';
  }
  let scopes: readonly string[];
  let scopesAssumed = false;
  if (q.scopes) scopes = [...q.scopes];
  else if (recordScopes !== undefined) scopes = [...recordScopes];
  else {
    scopes = [...neededScopes];
    scopesAssumed = true;
  }
  const amr = q.amr ? [...q.amr] : as.kind === 'user' ? ['pwd', 'otp'] : [];
  const principal: Principal = {
    kind: as.kind,
    subject: as.id,
    issuer: issuer.url,
    ...(as.kind === 'client' ? { clientId: as.id } : {}),
    ...(as.kind === 'key' ? { keyId: as.id } : {}),
    roles,
    scopes,
    amr,
    ...(as.kind === 'user' ? { authTime: Math.floor(q.now / 1000) - (q.authAge ?? 0) } : {}),
    claims: {},
  };
  return { principal, issuerId: issuer.id, rolesFrom, scopesAssumed, notes, ...(refused ? { refused } : {}) };
}
