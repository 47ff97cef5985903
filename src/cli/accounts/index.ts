/**
 * The account commands of the `rampart` CLI: `users`, `clients`, `keys` (DESIGN.md "CLI": every
 * command takes --config FILE; exit 0 on success, 1 on a failed operation, 2 on usage errors).
 * Each acts on the store of the given config (SQLite file or PostgreSQL), which a running gateway
 * shares: changes take effect without a restart.
 */
import { parseArgs } from 'node:util';
import { ConfigError, formatProblem } from '../../config/load.ts';
import { AccountError } from '../../accounts/accounts.ts';
import { StoreError } from '../../store/errors.ts';
import { SecretsError } from '../../secrets/errors.ts';
import { SecretError } from '../../config/secrets.ts';
import { openCliContext, processIo, UsageError, type CliIo } from './context.ts';
import { runUsers, USERS_USAGE } from './users.ts';
import { runClients, CLIENTS_USAGE } from './clients.ts';
import { runKeys, KEYS_USAGE } from './keys.ts';

export const ACCOUNT_COMMANDS = new Set(['users', 'clients', 'keys']);

const OPTIONS = {
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
  json: { type: 'boolean' },
  roles: { type: 'string' },
  'display-name': { type: 'string' },
  email: { type: 'string' },
  'password-stdin': { type: 'boolean' },
  reason: { type: 'string' },
  'redirect-uri': { type: 'string', multiple: true },
  'grant-types': { type: 'string' },
  public: { type: 'boolean' },
  scope: { type: 'string' },
  name: { type: 'string' },
  scopes: { type: 'string' },
  expires: { type: 'string' },
} as const;

/** Options each subcommand accepts (besides --config and --help). */
const ALLOWED: Record<string, Record<string, readonly string[]>> = {
  users: {
    add: ['roles', 'display-name', 'email', 'password-stdin'], list: ['json'], disable: ['reason'], enable: [], 'reset-mfa': [], 'reset-password': [],
  },
  clients: { add: ['redirect-uri', 'grant-types', 'public', 'scope', 'roles', 'name'], list: ['json'], remove: [] },
  keys: { create: ['name', 'roles', 'scopes', 'expires'], list: ['json'], revoke: ['reason'], 'rotate-signing': [] },
};

const USAGES: Record<string, string> = { users: USERS_USAGE, clients: CLIENTS_USAGE, keys: KEYS_USAGE };

/** The command word of an argument list: the first token that is not --config's or an option. */
export function commandOf(argv: readonly string[]): string | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--config') i++;
    else if (!a.startsWith('-')) return a;
  }
  return undefined;
}

export async function runAccountCommand(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: OPTIONS });
  } catch (err) {
    io.err(`rampart: ${(err as Error).message}\n`);
    return 2;
  }
  const [command = '', sub, ...positionals] = parsed.positionals;
  const usage = `Usage:\n${(USAGES[command] ?? '').replace(/^/gm, '  ').trimEnd()}\n\nOptions:\n  --config FILE      the config file (default ./rampart.yaml; RAMPART_CONFIG overrides)\n`;
  if (parsed.values.help || sub === undefined || sub === 'help') {
    (parsed.values.help || sub === 'help' ? io.out : io.err)(usage);
    return parsed.values.help || sub === 'help' ? 0 : 2;
  }
  const allowed = ALLOWED[command]?.[sub];
  if (!allowed) {
    io.err(`rampart: unknown ${command} command "${sub}"\n\n${usage}`);
    return 2;
  }
  const extra = Object.keys(parsed.values).filter((k) => k !== 'config' && !allowed.includes(k));
  if (extra.length) {
    io.err(`rampart: ${command} ${sub} does not take --${extra.join(', --')}\n\n${usage}`);
    return 2;
  }
  const configFile = parsed.values.config ?? process.env.RAMPART_CONFIG ?? 'rampart.yaml';
  let ctx;
  try {
    ctx = await openCliContext(configFile, io);
  } catch (err) {
    return failed(io, err);
  }
  try {
    const args = { positionals, values: parsed.values as Record<string, string | boolean | undefined> };
    if (command === 'users') return await runUsers(ctx, io, sub, args);
    if (command === 'clients') return await runClients(ctx, sub, args);
    return await runKeys(ctx, sub, args);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`rampart: ${err.message}\n\n${usage}`);
      return 2;
    }
    return failed(io, err);
  } finally {
    await ctx.close();
  }
}

function failed(io: CliIo, err: unknown): number {
  if (err instanceof ConfigError) {
    for (const p of err.problems) io.err(formatProblem(p) + '\n');
    return 1;
  }
  if (err instanceof AccountError || err instanceof StoreError || err instanceof SecretsError || err instanceof SecretError) {
    io.err(`rampart: ${err.message}\n`);
    return 1;
  }
  throw err;
}
