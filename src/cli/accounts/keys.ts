/**
 * `rampart keys create|list|revoke`: API keys for service-to-service calls (X-API-Key). The key is
 * printed once; the running gateway accepts it at once (it reads the store), and refuses it at once
 * after `revoke` (deny-list).
 */
import { createApiKeyService } from '../../accounts/api-keys.ts';
import { rotateSigning } from '../../auth-server/cli.ts';
import { isoTime, list, roles, subjectId, table, UsageError, type CliContext } from './context.ts';
import type { UsersArgs } from './users.ts';

export const KEYS_USAGE = `rampart keys create --name NAME --roles R1,R2 [--scopes S1,S2] [--expires 90d|12h|2027-01-31|never]
rampart keys list [--json]
rampart keys revoke ID [--reason TEXT]
rampart keys rotate-signing          (the authorization server's token signing key)
`;

/** Default lifetime of a key when --expires is not given: keys that never expire are explicit. */
export const DEFAULT_KEY_DAYS = 90;

/** `30d`, `12h`, `45m`, an ISO date or date-time, or `never`; seconds since the epoch (undefined: never). */
export function parseExpiry(text: string | undefined, now: number): number | undefined {
  if (text === undefined) return now + DEFAULT_KEY_DAYS * 86_400;
  if (text === 'never') return undefined;
  const d = /^(\d{1,5})([dhm])$/.exec(text);
  if (d) {
    const n = Number(d[1]);
    if (n === 0) throw new UsageError('--expires must be in the future');
    return now + n * (d[2] === 'd' ? 86_400 : d[2] === 'h' ? 3600 : 60);
  }
  if (/^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?(\.\d+)?(Z|[+-]\d{2}:\d{2}))?$/.test(text)) {
    const t = Date.parse(text);
    if (!Number.isNaN(t)) {
      const s = Math.floor(t / 1000);
      if (s <= now) throw new UsageError('--expires must be in the future');
      return s;
    }
  }
  throw new UsageError('--expires takes a duration (90d, 12h, 30m), a date (2027-01-31), a date-time with offset, or never');
}

const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]{1,128}$/;

export async function runKeys(ctx: CliContext, sub: string, args: UsersArgs): Promise<number> {
  const v = args.values;
  const svc = createApiKeyService({ store: ctx.store, keyring: ctx.keyring });
  try {
    switch (sub) {
      case 'rotate-signing':
        if (args.positionals.length) throw new UsageError('keys rotate-signing takes no arguments');
        return await rotateSigning({ authServer: ctx.loaded.config.authServer, store: ctx.store, keyring: ctx.keyring, out: ctx.out, err: ctx.err, audit: (a, t, d) => ctx.audit(a, t, d) });
      case 'create': {
        if (args.positionals.length) throw new UsageError('keys create takes no arguments besides its options');
        const name = v.name;
        if (typeof name !== 'string') throw new UsageError('keys create needs --name');
        if (typeof v.roles !== 'string') throw new UsageError('keys create needs --roles (the roles the key acts with)');
        const scopes = list(v.scopes as string | undefined);
        const bad = scopes.find((s) => !SCOPE.test(s));
        if (bad !== undefined) throw new UsageError(`--scopes: "${bad.slice(0, 40)}" is not a scope token`);
        const now = Math.floor(Date.now() / 1000);
        const expiresAt = parseExpiry(v.expires as string | undefined, now);
        let created;
        try {
          created = await svc.create({ name, roles: roles(v.roles, ctx), scopes, ...(expiresAt !== undefined ? { expiresAt } : {}) });
        } catch (err) {
          if (err instanceof TypeError) throw new UsageError(`--name: ${err.message}`);
          throw err;
        }
        await ctx.audit('keys.create', `key:${created.record.id}`, { name, roles: [...created.record.roles], expiresAt: expiresAt ?? null });
        ctx.out(`${created.key}\n`);
        ctx.err(`API key ${created.record.id} (${name}) created, ${expiresAt === undefined ? 'never expires' : `expires ${isoTime(expiresAt)}`}. It is shown once: send it in the X-API-Key header.\n`);
        return 0;
      }
      case 'list': {
        if (args.positionals.length) throw new UsageError('keys list takes no arguments');
        const keys = await svc.list();
        const now = Date.now() / 1000;
        const status = (k: (typeof keys)[number]) => (k.revokedAt !== undefined ? 'revoked' : k.expiresAt !== undefined && k.expiresAt <= now ? 'expired' : 'active');
        if (v.json) {
          // Never the MAC.
          ctx.out(JSON.stringify(keys.map((k) => ({ id: k.id, name: k.name, roles: k.roles, scopes: k.scopes, status: status(k), createdAt: k.createdAt, expiresAt: k.expiresAt, revokedAt: k.revokedAt, lastUsedAt: k.lastUsedAt })), null, 2) + '\n');
          return 0;
        }
        ctx.out(table(['ID', 'NAME', 'ROLES', 'SCOPES', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED'], keys.map((k) => [
          k.id, k.name, k.roles.join(',') || '-', k.scopes.join(',') || '-', status(k), isoTime(k.createdAt), isoTime(k.expiresAt), isoTime(k.lastUsedAt),
        ])));
        return 0;
      }
      case 'revoke': {
        if (args.positionals.length !== 1) throw new UsageError('keys revoke takes one key id');
        const id = subjectId(args.positionals[0] as string, 'key');
        if (id === undefined) throw new UsageError('keys revoke: expected a key id (ID or key:ID)');
        if (!(await svc.revoke(id, typeof v.reason === 'string' ? v.reason.slice(0, 200) : 'revoked by an administrator'))) {
          ctx.err(`rampart: no active key ${id.slice(0, 40)}\n`);
          return 1;
        }
        await ctx.audit('keys.revoke', `key:${id}`);
        ctx.out(`key ${id} revoked; the gateway refuses it from now on\n`);
        return 0;
      }
      default:
        throw new UsageError(`unknown keys command "${sub}"`);
    }
  } finally {
    await svc.close();
  }
}
