/**
 * Secrets by reference only (DESIGN.md "Config"): `{ env: NAME }` or `{ file: PATH }` — a file path
 * resolves from the config file's directory. The value never appears in an error message.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { SecretRef } from './types.ts';

export class SecretError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretError';
  }
}

export async function resolveSecret(ref: SecretRef, baseDir: string): Promise<Buffer> {
  if ('env' in ref) {
    const v = process.env[ref.env];
    if (v === undefined || v === '') throw new SecretError(`environment variable ${ref.env} is not set`);
    return Buffer.from(v.trim(), 'utf8');
  }
  const file = path.resolve(baseDir, ref.file);
  try {
    return Buffer.from((await readFile(file, 'utf8')).trim(), 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new SecretError(`secret file ${ref.file} ${code === 'ENOENT' ? 'does not exist' : 'cannot be read'}`);
  }
}
