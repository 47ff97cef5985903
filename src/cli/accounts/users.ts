/**
 * `rampart users add|list|disable|enable|reset-mfa|reset-password`.
 */
import { AccountError, createAccountService } from '../../accounts/accounts.ts';
import { validUsername } from '../../accounts/usernames.ts';
import { signOutEverywhere, denyGrant, DENY_SECONDS } from '../../auth-server/sign-out.ts';
import { isoTime, roles, subjectId, table, UsageError, type CliContext, type CliIo } from './context.ts';

export interface UsersArgs {
  readonly positionals: readonly string[];
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
}

export const USERS_USAGE = `rampart users add NAME [--roles R1,R2] [--display-name TEXT] [--email ADDRESS] [--password-stdin]
rampart users list [--json]
rampart users disable NAME [--reason TEXT]
rampart users enable NAME
rampart users reset-mfa NAME
rampart users reset-password NAME
`;

export async function runUsers(ctx: CliContext, io: CliIo, sub: string, args: UsersArgs): Promise<number> {
  const accounts = createAccountService({ store: ctx.store, keyring: ctx.keyring, issuer: ctx.issuer });
  const signOut = (userId: string, reason: string) =>
    signOutEverywhere(ctx.store, { issuer: ctx.issuer, userId, reason, denySeconds: DENY_SECONDS, revokeGrant: (grantId, why) => denyGrant(ctx.store, grantId, why, DENY_SECONDS) });
  const v = args.values;
  const one = (): string => {
    if (args.positionals.length !== 1) throw new UsageError(`users ${sub} takes one user name`);
    const id = subjectId(args.positionals[0] as string, 'user');
    if (id === undefined) throw new UsageError(`users ${sub}: expected a user (NAME or user:NAME)`);
    return id;
  };
  /** Users are named by username (normalised); the record's id is usually the same. */
  const find = async (name: string) => {
    const username = validUsername(name);
    const user = (username && (await ctx.store.users.getByUsername(username))) || (await ctx.store.users.get(name));
    if (!user) throw new AccountError('no_such_user', `no user named ${name}`);
    return user;
  };

  switch (sub) {
    case 'add': {
      const name = one();
      let password: string | undefined;
      if (v['password-stdin']) password = (await io.stdin()).replace(/\r?\n$/, '');
      const { user, oneTimePassword } = await accounts.createUser({
        username: name, roles: roles(v.roles as string | undefined, ctx),
        ...(typeof v['display-name'] === 'string' ? { displayName: v['display-name'] } : {}),
        ...(typeof v.email === 'string' ? { email: v.email } : {}),
        ...(password !== undefined ? { password } : {}),
      });
      await ctx.audit('users.add', `user:${user.id}`, { roles: [...user.roles] });
      ctx.out(`user ${user.username} added (id ${user.id}, roles: ${user.roles.join(', ') || 'none'})\n`);
      if (oneTimePassword) {
        ctx.out(`one-time password: ${oneTimePassword}\n`);
        ctx.err('The one-time password is shown once; it must be changed at first login.\n');
      } else {
        ctx.err('The password must be changed at first login.\n');
      }
      return 0;
    }
    case 'list': {
      if (args.positionals.length) throw new UsageError('users list takes no arguments');
      const users = await ctx.store.users.list();
      if (v.json) {
        // Never the password hash, sealed secret or recovery code hashes.
        ctx.out(JSON.stringify(users.map((u) => ({
          id: u.id, username: u.username, displayName: u.displayName, email: u.email, roles: u.roles, mfa: u.totpSecretSealed !== undefined,
          recoveryCodes: u.recoveryCodeHashes.length, disabled: u.disabled, mustChangePassword: u.mustChangePassword, createdAt: u.createdAt, updatedAt: u.updatedAt,
        })), null, 2) + '\n');
        return 0;
      }
      ctx.out(table(['USERNAME', 'ID', 'ROLES', 'MFA', 'STATUS', 'CREATED'], users.map((u) => [
        u.username, u.id, u.roles.join(',') || '-', u.totpSecretSealed ? `totp (${u.recoveryCodeHashes.length} codes)` : 'not enrolled',
        u.disabled ? 'disabled' : u.mustChangePassword ? 'must change password' : 'active', isoTime(u.createdAt),
      ])));
      return 0;
    }
    case 'disable': {
      const user = await find(one());
      await accounts.disableUser(user.id, typeof v.reason === 'string' ? v.reason.slice(0, 200) : 'disabled by an administrator');
      await ctx.audit('users.disable', `user:${user.id}`);
      ctx.out(`user ${user.username} disabled; tokens issued to it are refused from now on\n`);
      return 0;
    }
    case 'enable': {
      const user = await find(one());
      await accounts.enableUser(user.id);
      await ctx.audit('users.enable', `user:${user.id}`);
      ctx.out(`user ${user.username} enabled\n`);
      return 0;
    }
    case 'reset-mfa': {
      const user = await find(one());
      await accounts.resetMfa(user.id);
      // A lost or stolen authenticator: sessions it opened end with it.
      await signOut(user.id, 'second factor reset by an administrator');
      await ctx.audit('users.reset-mfa', `user:${user.id}`);
      ctx.out(`user ${user.username}: TOTP and recovery codes removed, signed out everywhere; enrolment is asked at the next login\n`);
      return 0;
    }
    case 'reset-password': {
      const user = await find(one());
      const password = await accounts.resetPassword(user.id);
      // The old password may be known to someone else: whoever is signed in with it is signed out.
      await signOut(user.id, 'password reset by an administrator');
      await ctx.audit('users.reset-password', `user:${user.id}`);
      ctx.out(`one-time password: ${password}\n`);
      ctx.err('The one-time password is shown once; it must be changed at first login.\n');
      return 0;
    }
    default:
      throw new UsageError(`unknown users command "${sub}"`);
  }
}
