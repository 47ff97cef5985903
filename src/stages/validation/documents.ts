/**
 * Each OpenAPI document is loaded and compiled once per config generation, however many routes
 * use it; a reload reads it again (it may have changed with the config).
 */
import path from 'node:path';
import type { RootConfig } from '../../config/types.ts';
import { loadOpenApi } from './openapi/load.ts';
import { compileDocument, type CompiledDocument } from './openapi/compile.ts';

const byGeneration = new WeakMap<RootConfig, Map<string, Promise<CompiledDocument>>>();

export function documentFor(root: RootConfig, baseDir: string, file: string): Promise<CompiledDocument> {
  let docs = byGeneration.get(root);
  if (!docs) byGeneration.set(root, (docs = new Map()));
  const absolute = path.resolve(baseDir, file);
  let doc = docs.get(absolute);
  if (!doc) {
    doc = loadOpenApi(path.relative(process.cwd(), absolute) || file, absolute).then(compileDocument);
    docs.set(absolute, doc);
  }
  return doc;
}
