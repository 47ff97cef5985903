/**
 * `rampart clients add|list|remove`: OAuth clients of the built-in authorization server, stored
 * with oidc-provider's client metadata. A confidential client's secret is printed once; the store
 * keeps its SHA-256 and the secret sealed with the keyring ('client-secrets', AAD = client id) for
 * the provider, which needs it (S4: "hashed or encrypted").
 */
import { createHash, randomBytes } from 'node:crypto';
import type { ClientRecord } from '../../store/types.ts';
import { isoTime, list, roles, subjectId, table, UsageError, type CliContext } from './context.ts';
import type { UsersArgs } from './users.ts';

export const CLIENTS_USAGE = `rampart clients add ID [--redirect-uri URI]... [--grant-types G1,G2] [--public] [--scope "S1 S2"] [--roles R1,R2] [--name TEXT]
rampart clients list [--json]
rampart clients remove ID
`;

const CLIENT_ID = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const GRANTS = new Map([
  ['authorization_code', 'authorization_code'],
  ['refresh_token', 'refresh_token'],
  ['client_credentials', 'client_credentials'],
  ['device_code', 'urn:ietf:params:oauth:grant-type:device_code'],
  ['urn:ietf:params:oauth:grant-type:device_code', 'urn:ietf:params:oauth:grant-type:device_code'],
]);
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/; // RFC 6749 §3.3 scope-token

/**
 * RFC 6749 §3.1.2 / RFC 9700 §2.1: absolute, no fragment, no userinfo; https, or http only on a
 * loopback host for native apps (RFC 8252 §7.3). Matching is exact at the provider.
 */
export function checkRedirectUri(text: string): string | undefined {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    return 'is not an absolute URI';
  }
  if (u.hash || text.includes('#')) return 'must not have a fragment';
  if (u.username || u.password) return 'must not carry user information';
  if (u.protocol === 'http:' && !['localhost', '127.0.0.1', '[::1]'].includes(u.hostname)) return 'must use https (http only for a loopback host)';
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be https (private-use schemes are not supported)';
  return undefined;
}

export async function runClients(ctx: CliContext, sub: string, args: UsersArgs): Promise<number> {
  const v = args.values;
  const one = (): string => {
    if (args.positionals.length !== 1) throw new UsageError(`clients ${sub} takes one client id`);
    const id = subjectId(args.positionals[0] as string, 'client');
    if (id === undefined || !CLIENT_ID.test(id)) throw new UsageError(`clients ${sub}: a client id has lower-case letters, digits, ".", "_" or "-" (at most 63)`);
    return id;
  };
  switch (sub) {
    case 'add': {
      const clientId = one();
      const redirectUris = ([] as string[]).concat((v['redirect-uri'] as unknown as string[] | undefined) ?? []);
      for (const r of redirectUris) {
        const why = checkRedirectUri(r);
        if (why) throw new UsageError(`--redirect-uri ${r.slice(0, 100)} ${why}`);
      }
      const isPublic = v.public === true;
      const grantNames = list(v['grant-types'] as string | undefined);
      const grants = grantNames.length ? grantNames : redirectUris.length ? ['authorization_code', 'refresh_token'] : [isPublic ? 'device_code' : 'client_credentials'];
      const grantTypes = grants.map((g) => {
        const known = GRANTS.get(g);
        // No implicit and no password grant (OAuth 2.0 Security BCP, RFC 9700 §2.1.2, §2.4).
        if (!known) throw new UsageError(`--grant-types: "${g.slice(0, 40)}" is not one of authorization_code, refresh_token, client_credentials, device_code`);
        return known;
      });
      if (grantTypes.includes('authorization_code') && redirectUris.length === 0) throw new UsageError('the authorization_code grant needs at least one --redirect-uri');
      if (isPublic && grantTypes.includes('client_credentials')) throw new UsageError('a public client cannot use client_credentials (it has no secret)');
      const scope = v.scope as string | undefined;
      if (scope !== undefined && !SCOPE.test(scope)) throw new UsageError('--scope: space-separated scope tokens (RFC 6749 §3.3)');
      const name = v.name as string | undefined;
      const metadata: Record<string, unknown> = {
        client_id: clientId,
        grant_types: [...new Set(grantTypes)],
        redirect_uris: redirectUris,
        response_types: grantTypes.includes('authorization_code') ? ['code'] : [],
        token_endpoint_auth_method: isPublic ? 'none' : 'client_secret_basic',
        ...(scope ? { scope } : {}),
        ...(name ? { client_name: name.slice(0, 100) } : {}),
      };
      const secret = isPublic ? undefined : randomBytes(32).toString('base64url');
      const record: ClientRecord = {
        clientId, metadata, roles: roles(v.roles as string | undefined, ctx), disabled: false, createdAt: Math.floor(Date.now() / 1000),
        ...(secret ? { secretHash: createHash('sha256').update(secret).digest('hex'), secretSealed: ctx.keyring.seal('client-secrets', secret, clientId) } : {}),
      };
      if (await ctx.store.clients.get(clientId)) throw new UsageError(`a client with id ${clientId} exists`);
      await ctx.store.clients.create(record);
      await ctx.audit('clients.add', `client:${clientId}`, { grantTypes: metadata.grant_types, public: isPublic });
      ctx.out(`client ${clientId} added (${isPublic ? 'public' : 'confidential'}; grants: ${grants.join(', ')})\n`);
      if (secret) {
        ctx.out(`client secret: ${secret}\n`);
        ctx.err('The client secret is shown once; store it in the client\'s secret manager.\n');
      }
      return 0;
    }
    case 'list': {
      if (args.positionals.length) throw new UsageError('clients list takes no arguments');
      const clients = await ctx.store.clients.list();
      if (v.json) {
        ctx.out(JSON.stringify(clients.map((c) => ({ clientId: c.clientId, metadata: c.metadata, roles: c.roles, confidential: c.secretHash !== undefined, disabled: c.disabled, createdAt: c.createdAt })), null, 2) + '\n');
        return 0;
      }
      ctx.out(table(['CLIENT', 'TYPE', 'GRANTS', 'REDIRECT URIS', 'ROLES', 'CREATED'], clients.map((c) => [
        c.clientId, c.secretHash ? 'confidential' : 'public', ((c.metadata.grant_types as string[] | undefined) ?? []).map((g) => g.replace('urn:ietf:params:oauth:grant-type:', '')).join(','),
        ((c.metadata.redirect_uris as string[] | undefined) ?? []).join(' ') || '-', c.roles.join(',') || '-', isoTime(c.createdAt),
      ])));
      return 0;
    }
    case 'remove': {
      const clientId = one();
      if (!(await ctx.store.clients.remove(clientId))) {
        ctx.err(`rampart: no client ${clientId}\n`);
        return 1;
      }
      // S9: its live tokens stop working at once, on every instance.
      const cutOff = Math.floor(Date.now() / 1000) + 1;
      await ctx.store.denyList.add({ kind: 'client', value: clientId, notBefore: cutOff, expiresAt: cutOff + 86_400, reason: 'client removed' });
      await ctx.audit('clients.remove', `client:${clientId}`);
      ctx.out(`client ${clientId} removed; its tokens are refused from now on\n`);
      return 0;
    }
    default:
      throw new UsageError(`unknown clients command "${sub}"`);
  }
}
