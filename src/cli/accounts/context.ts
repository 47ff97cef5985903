/**
 * What the account commands (`users`, `clients`, `keys`) share: the config they act on, its store
 * opened and migrated, the keyring from its master key, and the audit trail of who changed what.
 */
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type LoadedConfig } from '../../config/load.ts';
import { resolveSecret } from '../../config/secrets.ts';
import { loadMasterKey } from '../../secrets/master-key.ts';
import { createKeyring, type Keyring } from '../../secrets/keyring.ts';
import { openStore } from '../../store/open.ts';
import type { Store } from '../../store/types.ts';
import { STAGES } from '../../stages/index.ts';

export interface CliContext {
  readonly loaded: LoadedConfig;
  readonly store: Store;
  readonly keyring: Keyring;
  /** The built-in authorization server's issuer (deny-list subjects), when configured. */
  readonly issuer: string;
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  audit(action: string, target: string, detail?: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

export interface CliIo {
  readonly out: (text: string) => void;
  readonly err: (text: string) => void;
  /** Standard input as text (for --password-stdin). */
  readonly stdin: () => Promise<string>;
}

export const processIo: CliIo = {
  out: (t) => void process.stdout.write(t),
  err: (t) => void process.stderr.write(t),
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
};

/** Used when no authorization server is configured: deny-list subjects are still well-formed. */
export const NO_ISSUER = 'urn:rampart:builtin';

export async function openCliContext(configFile: string, io: CliIo): Promise<CliContext> {
  const loaded = await loadConfig(configFile, STAGES);
  const root = loaded.config;
  const dataDir = path.resolve(process.env.RAMPART_DATA_DIR || root.dataDir);
  const dev = root.listeners.some((l) => l.tls?.dev === true);
  const value = root.masterKey ? await resolveSecret(root.masterKey, loaded.baseDir) : undefined;
  const keyring = createKeyring(await loadMasterKey({ dataDir, dev, value }));
  const store = await openStore(root.store, { dataDir, baseDir: loaded.baseDir });
  const issuer = (root as unknown as { authServer?: { issuer?: string } }).authServer?.issuer ?? NO_ISSUER;
  const actor = `cli:${safeUser()}`;
  return {
    loaded, store, keyring, issuer, out: io.out, err: io.err,
    audit: (action, target, detail) => store.audit.append({ at: Math.floor(Date.now() / 1000), actor, action, target, ...(detail ? { detail } : {}) }),
    close: () => store.close(),
  };
}

function safeUser(): string {
  try {
    return os.userInfo().username;
  } catch {
    return String(process.getuid?.() ?? 'unknown');
  }
}

/** `user:alice` → alice; a bare name is a user (DESIGN.md "CLI"); another kind is a usage error. */
export function subjectId(text: string, kind: 'user' | 'client' | 'key'): string | undefined {
  const m = /^(user|client|key):(.+)$/.exec(text);
  if (!m) return text;
  return m[1] === kind ? m[2] : undefined;
}

export class UsageError extends Error {}

/** Comma-separated list option → distinct, non-empty, trimmed values. */
export function list(value: string | undefined): string[] {
  if (value === undefined) return [];
  return [...new Set(value.split(',').map((s) => s.trim()).filter(Boolean))];
}

const ROLE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;
export function roles(value: string | undefined, ctx?: Pick<CliContext, 'loaded'>, option = '--roles'): string[] {
  const r = list(value);
  const bad = r.find((x) => !ROLE.test(x));
  if (bad !== undefined) throw new UsageError(`${option}: "${bad.slice(0, 40)}" is not a role name (letters, digits, . _ : -)`);
  // A role the policy does not define would grant nothing, silently: refused while it can be fixed.
  const defined = ctx?.loaded.config.authorization?.roles;
  const unknown = defined ? r.find((x) => !Object.hasOwn(defined, x)) : undefined;
  if (unknown !== undefined) throw new UsageError(`${option}: unknown role "${unknown.slice(0, 40)}": the policy defines ${Object.keys(defined ?? {}).join(', ') || 'none'} (authorization.roles)`);
  return r;
}

/** A fixed-width table for humans. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n') + '\n';
}

export function isoTime(epochSeconds: number | undefined): string {
  return epochSeconds === undefined ? '-' : new Date(epochSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
