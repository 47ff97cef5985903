/**
 * The `rampart` command (DESIGN.md "CLI"): start, check, users/clients/keys, login, policy,
 * version, help. Every command takes --config FILE (default ./rampart.yaml, RAMPART_CONFIG
 * overrides); exit 0 on success, 1 on a failed check, 2 on usage errors.
 */
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { runCheck } from './check.ts';
import { runStart } from './start.ts';
import { ACCOUNT_COMMANDS, commandOf, runAccountCommand } from './accounts/index.ts';
import { runLoginCommand } from '../auth-server/cli.ts';
import { runPolicyCommand } from './policy/index.ts';

const USAGE = `Usage: rampart <command> [options]

Commands:
  start              run the gateway
  check [FILE]       validate and compile a config without listening (exit 0 valid, 1 invalid)
  users ...          add, list, disable, enable, reset-mfa, reset-password (rampart users --help)
  clients ...        OAuth clients: add, list, remove (rampart clients --help)
  keys ...           API keys: create, list, revoke; rotate-signing (rampart keys --help)
  policy ...         explain a decision, test a table of expected decisions, report who can do what
                     (rampart policy --help; exit 0 allowed/passed, 1 denied/failed, 2 usage)
  login              a token for the command line from the built-in authorization server (device flow)
  version            print the version
  help               this text

Options:
  --config FILE      the config file (default ./rampart.yaml; RAMPART_CONFIG overrides)
  --help, -h         this text
`;

export function version(): string {
  const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
  return pkg.version;
}

export async function main(argv: string[]): Promise<number> {
  // users/clients/keys have their own options: parsed by their own module.
  if (ACCOUNT_COMMANDS.has(commandOf(argv) ?? '')) return runAccountCommand(argv);
  if (commandOf(argv) === 'login') return runLoginCommand(argv);
  if (commandOf(argv) === 'policy') return runPolicyCommand(argv);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options: { config: { type: 'string' }, help: { type: 'boolean', short: 'h' }, version: { type: 'boolean', short: 'v' } } });
  } catch (err) {
    process.stderr.write(`rampart: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const [command, ...rest] = parsed.positionals;
  if (parsed.values.version && command === undefined) {
    process.stdout.write(`rampart ${version()} (node ${process.versions.node})\n`);
    return 0;
  }
  if (parsed.values.help || command === 'help' || command === undefined) {
    (command === undefined && !parsed.values.help ? process.stderr : process.stdout).write(USAGE);
    return command === undefined && !parsed.values.help ? 2 : 0;
  }
  const config = parsed.values.config ?? process.env.RAMPART_CONFIG ?? 'rampart.yaml';
  switch (command) {
    case 'version':
      process.stdout.write(`rampart ${version()} (node ${process.versions.node})\n`);
      return 0;
    case 'check':
      if (rest.length > 1) break;
      return runCheck(rest[0] ?? config);
    case 'start':
      if (rest.length > 0) break;
      return runStart(config);
    default:
      process.stderr.write(`rampart: unknown command "${command}"\n\n${USAGE}`);
      return 2;
  }
  process.stderr.write(`rampart: too many arguments for ${command}\n\n${USAGE}`);
  return 2;
}

if (import.meta.main) {
  main(process.argv.slice(2)).then(
    (code) => {
      if (code !== -1) process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`rampart: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
