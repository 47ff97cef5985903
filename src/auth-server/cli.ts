/**
 * The authorization server's commands: `rampart keys rotate-signing` (a new token signing key) and
 * `rampart login` (a token for the command line, by the device authorization grant, RFC 8628).
 */
import type { Keyring } from '../secrets/keyring.ts';
import type { Store } from '../store/types.ts';
import type { AuthServerConfig } from './config.ts';
import { rotateSigningKeys } from './signing-keys.ts';

export interface RotateContext {
  readonly authServer: AuthServerConfig | undefined;
  readonly store: Store;
  readonly keyring: Keyring;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  audit(action: string, target: string, detail?: Record<string, unknown>): Promise<void>;
}

/** Clock skew the authn stage accepts, added to how long a retired key stays published. */
const SKEW_SECONDS = 60;

export async function rotateSigning(ctx: RotateContext, now = Math.floor(Date.now() / 1000)): Promise<number> {
  const config = ctx.authServer;
  if (!config) {
    ctx.err('rampart: keys rotate-signing needs authServer in the config\n');
    return 1;
  }
  // Two polling periods: every instance publishes the new key before any of them signs with it.
  const activateAfter = 2 * config.keyPollSeconds;
  const longest = Math.max(config.accessTokenTtlSeconds, ...config.resources.map((r) => r.accessTokenTtlSeconds ?? 0));
  // The old key keeps verifying what it signed: until instances switched, plus the longest token, plus skew.
  const keep = config.keyPollSeconds + longest + SKEW_SECONDS;
  const { set, added } = await rotateSigningKeys(ctx.store.oidc, ctx.keyring, now, keep, activateAfter);
  await ctx.audit('keys.rotate-signing', `signing-key:${added.kid}`, { activatesAt: added.activatesAt, published: set.keys.map((k) => k.kid) });
  ctx.out(`${added.kid}\n`);
  ctx.err(`New signing key ${added.kid}: published now, signs from ${new Date((added.activatesAt ?? now) * 1000).toISOString()}; the previous key stays in the JWKS for ${activateAfter + keep} s.\n`);
  return 0;
}

export interface LoginCliOptions {
  readonly authServer: AuthServerConfig | undefined;
  readonly clientId: string;
  readonly scope: string | undefined;
  readonly json: boolean;
  readonly ca: string | undefined;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
}

/** `rampart login`: prints the access token (or, with --json, the whole token response). */
export async function login(o: LoginCliOptions): Promise<number> {
  const { deviceLogin, DeviceLoginError } = await import('./device-login.ts');
  if (!o.authServer) {
    o.err('rampart: login needs authServer in the config\n');
    return 1;
  }
  const api = o.authServer.resources.find((r) => r.indicator === o.authServer?.defaultResource) ?? o.authServer.resources[0];
  const scope = o.scope ?? ['openid', 'offline_access', ...(api?.scopes ?? [])].join(' ');
  try {
    const t = await deviceLogin({ issuer: o.authServer.issuer, clientId: o.clientId, scope, ...(o.ca ? { ca: o.ca } : {}), tell: o.err });
    o.out(o.json ? `${JSON.stringify(t, null, 2)}\n` : `${t.access_token}\n`);
    o.err(`Signed in: the access token is valid for ${t.expires_in} s.\n`);
    return 0;
  } catch (err) {
    if (err instanceof DeviceLoginError) {
      o.err(`rampart: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

export const LOGIN_USAGE = `Usage: rampart login [--config FILE] [--client-id ID] [--scope "S1 S2"] [--json]

Signs in through the built-in authorization server with the device authorization grant
(RFC 8628): open the printed address, enter or check the code, sign in with your password and
authenticator code. Prints the access token on stdout (--json: the whole token response).
`;

/** Parses `rampart login …` and runs it (exit 0 signed in, 1 failed, 2 usage). */
export async function runLoginCommand(argv: readonly string[], io = { out: (t: string) => void process.stdout.write(t), err: (t: string) => void process.stderr.write(t) }): Promise<number> {
  const { parseArgs } = await import('node:util');
  const { readFile } = await import('node:fs/promises');
  const path = await import('node:path');
  const { loadConfig, ConfigError, formatProblem } = await import('../config/load.ts');
  const { STAGES } = await import('../stages/index.ts');
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, strict: true, options: { config: { type: 'string' }, 'client-id': { type: 'string' }, scope: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  } catch (err) {
    io.err(`rampart: ${(err as Error).message}\n\n${LOGIN_USAGE}`);
    return 2;
  }
  if (parsed.values.help) {
    io.out(LOGIN_USAGE);
    return 0;
  }
  if (parsed.positionals.length !== 1) {
    io.err(`rampart: login takes no arguments besides its options\n\n${LOGIN_USAGE}`);
    return 2;
  }
  const configFile = parsed.values.config ?? process.env.RAMPART_CONFIG ?? 'rampart.yaml';
  let loaded;
  try {
    loaded = await loadConfig(configFile, STAGES);
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const p of err.problems) io.err(`${formatProblem(p)}\n`);
      return 1;
    }
    throw err;
  }
  const root = loaded.config;
  // Development mode: trust the local CA the gateway generated (never outside dev mode).
  const dev = root.listeners.some((l) => l.tls?.dev === true);
  const dataDir = path.resolve(process.env.RAMPART_DATA_DIR || root.dataDir);
  const ca = dev ? await readFile(path.join(dataDir, 'tls', 'ca.crt'), 'utf8').catch(() => undefined) : undefined;
  return login({ authServer: root.authServer, clientId: parsed.values['client-id'] ?? 'rampart-cli', scope: parsed.values.scope, json: parsed.values.json === true, ca, out: io.out, err: io.err });
}
