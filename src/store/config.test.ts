import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../config/load.ts';
import { STAGES } from '../stages/index.ts';

const yaml = (store: string) => `
listeners:
  - { name: public, port: 0, protocol: https, tls: { dev: true } }
${store}
routes: []
`;

const problems = (text: string): string[] => {
  try {
    const loaded = parseConfig(text, 'rampart.yaml', '/tmp', STAGES);
    return loaded.warnings.map((w) => `warning ${w.path}: ${w.message}`);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.line}: ${p.path}: ${p.message}`);
    throw err;
  }
};

test('store config: sqlite by default, postgres defaults filled in', () => {
  assert.deepEqual(parseConfig(yaml(''), 'rampart.yaml', '/tmp', STAGES).config.store, { kind: 'sqlite' });
  const pg = parseConfig(yaml('store: { kind: postgres, postgres: { url: { env: PG_URL } } }'), 'rampart.yaml', '/tmp', STAGES).config.store;
  assert.deepEqual(pg, { kind: 'postgres', postgres: { url: { env: 'PG_URL' }, schema: 'public', poolSize: 10, timeoutMs: 5000 } });
});

test('store config: kind postgres without a URL, an inline URL, a bad schema or an unknown key are errors with their line', () => {
  assert.match(problems(yaml('store: { kind: postgres }')).join('\n'), /store\.postgres: kind: postgres needs postgres\.url/);
  assert.match(problems(yaml('store:\n  kind: postgres\n  postgres: { url: "postgres://u:secret@h/db" }')).join('\n'), /^6: store\.postgres\.url/m);
  assert.doesNotMatch(problems(yaml('store:\n  kind: postgres\n  postgres: { url: "postgres://u:secret@h/db" }')).join('\n'), /secret@/, 'the inline value is not echoed');
  assert.match(problems(yaml('store: { kind: postgres, postgres: { url: { env: X }, schema: "Bad-Name" } }')).join('\n'), /store\.postgres\.schema: must be a lower-case SQL identifier/);
  assert.match(problems(yaml('store: { kind: mongo }')).join('\n'), /store\.kind/);
  assert.match(problems(yaml('store: { file: x.db }')).join('\n'), /store/);
});

test('store config: a postgres section with kind sqlite is warned about', () => {
  assert.match(problems(yaml('store: { kind: sqlite, postgres: { url: { env: X } } }')).join('\n'), /warning store\.postgres: ignored/);
});
