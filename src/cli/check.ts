/**
 * `rampart check FILE`: everything start does but listen — schema, references, stage checks,
 * secrets resolvable, certificates loadable, every route compiled. Exit 0 valid, 1 invalid.
 */
import path from 'node:path';
import { pino } from 'pino';
import { loadConfig, ConfigError, formatProblem, type ConfigProblem } from '../config/load.ts';
import { resolveSecret } from '../config/secrets.ts';
import { compileGeneration } from '../core/compile.ts';
import { Keeper } from '../core/keeper.ts';
import { CertificateStore } from '../tls/store.ts';
import { certificateEntries } from '../tls/entries.ts';
import { STAGES } from '../stages/index.ts';

export interface CheckResult {
  readonly ok: boolean;
  readonly problems: readonly ConfigProblem[];
}

export async function checkConfig(file: string): Promise<CheckResult> {
  let loaded;
  try {
    loaded = await loadConfig(file, STAGES);
  } catch (err) {
    if (err instanceof ConfigError) return { ok: false, problems: err.problems };
    throw err;
  }
  const problems: ConfigProblem[] = [...loaded.warnings];
  const fail = (p: string, message: string) => problems.push({ file: loaded.file, line: 1, col: 1, path: p, message, severity: 'error' });
  const root = loaded.config;
  if (root.masterKey) {
    try {
      await resolveSecret(root.masterKey, loaded.baseDir);
    } catch (err) {
      fail('masterKey', (err as Error).message);
    }
  } else if (!root.listeners.some((l) => l.tls?.dev)) {
    fail('masterKey', 'required outside development mode: { env: NAME } or { file: PATH }');
  }
  for (const [i, l] of root.listeners.entries()) {
    if (!l.tls?.certificates) continue;
    try {
      const store = new CertificateStore(
        certificateEntries(l.tls, loaded.baseDir),
        { watch: false },
      );
      store.close();
    } catch (err) {
      fail(`listeners[${i}].tls.certificates`, (err as Error).message);
    }
  }
  const keeper = new Keeper();
  try {
    const gen = await compileGeneration(
      loaded,
      STAGES,
      { logger: pino({ level: 'silent' }), keeper, identity: { tokenFor: async () => '' }, dataDir: path.resolve(process.env.RAMPART_DATA_DIR ?? root.dataDir), dev: false },
      0,
    );
    for (const s of gen.stages) await s.close?.();
  } catch (err) {
    // A stage's own config errors (an OpenAPI document's, with its file, line and pointer) as they are.
    if (err instanceof ConfigError) problems.push(...err.problems);
    else fail('', `does not compile: ${(err as Error).message}`);
  } finally {
    await keeper.abort();
  }
  return { ok: !problems.some((p) => p.severity === 'error'), problems };
}

export async function runCheck(file: string): Promise<number> {
  const result = await checkConfig(file);
  for (const p of result.problems) (p.severity === 'error' ? process.stderr : process.stdout).write(formatProblem(p) + '\n');
  if (result.ok) process.stdout.write(`${path.relative(process.cwd(), file) || file}: OK\n`);
  return result.ok ? 0 : 1;
}
