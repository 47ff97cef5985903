import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildRootSchema } from './schema.ts';
import { STAGES } from '../stages/index.ts';
import type { JsonSchema } from '../core/stage.ts';

const doc = readFileSync(new URL('../../docs/config.md', import.meta.url), 'utf8');
const stageNames = new Set<string>(STAGES.map((s) => s.name));

function keys(schema: JsonSchema, path: string, out: string[]): string[] {
  const s = schema as { type?: string; items?: JsonSchema; properties?: Record<string, JsonSchema> };
  if (s.type === 'array' && s.items) return keys(s.items, `${path}[]`, out);
  for (const [k, v] of Object.entries(s.properties ?? {})) {
    if ((path === 'routes[]' || path.endsWith('defaults')) && stageNames.has(k)) continue;
    const p = path ? `${path}.${k}` : k;
    out.push(p);
    keys(v, p, out);
  }
  return out;
}

test('docs/config.md documents every key of the schema', () => {
  const all = keys(buildRootSchema(STAGES), '', []);
  for (const s of STAGES) keys(s.schema, s.name, all);
  const missing = all.filter((k) => !doc.includes(`\`${k}\``));
  assert.deepEqual(missing, []);
});

test('docs/config.md documents no key the schema lacks', () => {
  const all = new Set(keys(buildRootSchema(STAGES), '', []));
  for (const s of STAGES) keys(s.schema, s.name, []).forEach((k) => all.add(k));
  const documented = [...doc.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] as string).filter((k) => !k.includes('<'));
  assert.deepEqual(documented.filter((k) => !all.has(k)), []);
});
