/**
 * The master key: the root secret from which every at-rest encryption key is derived (DESIGN.md
 * S4, "Data directory"). In production it is given by reference (`masterKey: { env: NAME }` or
 * `{ file: PATH }`); only in dev mode is one generated, once, at `<dataDir>/master.key` (0600).
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { SecretsError } from './errors.ts';

export const MASTER_KEY_MIN_BYTES = 32;
/** A sanity cap: a "key" of kilobytes is a wrong file, not a strong key. */
export const MASTER_KEY_MAX_BYTES = 512;
export const MASTER_KEY_FILE = 'master.key';

export interface LoadMasterKeyOptions {
  readonly dataDir: string;
  readonly dev: boolean;
  /** The resolved secret reference: base64 (standard or url-safe) or hex text of ≥ 32 bytes. */
  readonly value?: Buffer | string | undefined;
}

/**
 * The master key bytes. A configured value always wins; without one, dev mode uses (or creates)
 * `<dataDir>/master.key` and any other mode refuses to start.
 */
export async function loadMasterKey(options: LoadMasterKeyOptions): Promise<Buffer> {
  if (options.value !== undefined) return parseMasterKey(options.value, 'the configured masterKey');
  if (!options.dev) {
    throw new SecretsError(
      'RAMPART_SECRETS_MASTER_KEY_MISSING',
      'No master key: set `masterKey: { env: NAME }` or `masterKey: { file: PATH }` in the config ' +
        `(base64 or hex of at least ${MASTER_KEY_MIN_BYTES} random bytes, e.g. \`openssl rand -base64 32\`). ` +
        'A master key is generated only in dev mode.',
    );
  }
  return devMasterKey(options.dataDir);
}

const HEX = /^(?:[0-9a-fA-F]{2})+$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * Decodes a master key given as text. Hex is tried first (64 hex digits are also valid base64, and
 * hex is what `openssl rand -hex 32` prints). The message never contains the value.
 */
export function parseMasterKey(value: Buffer | string, source: string): Buffer {
  // Whitespace anywhere is dropped: `openssl rand -base64 64` wraps its output at 64 columns.
  const text = (typeof value === 'string' ? value : value.toString('utf8')).replace(/\s+/g, '');
  const invalid = (why: string): SecretsError =>
    new SecretsError(
      'RAMPART_SECRETS_MASTER_KEY_INVALID',
      `${source} is not usable: ${why}. Expected base64 or hex of ${MASTER_KEY_MIN_BYTES} to ` +
        `${MASTER_KEY_MAX_BYTES} random bytes (e.g. \`openssl rand -base64 32\`).`,
    );
  if (text.length === 0) throw invalid('it is empty');
  let bytes: Buffer;
  if (HEX.test(text)) {
    bytes = Buffer.from(text, 'hex');
  } else if (BASE64.test(text) || BASE64URL.test(text)) {
    bytes = Buffer.from(text, BASE64URL.test(text) ? 'base64url' : 'base64');
    // Node's decoder skips bad characters silently; a strict round trip catches a truncated value.
    const canonical = bytes.toString(BASE64URL.test(text) ? 'base64url' : 'base64');
    if (canonical.replace(/=+$/, '') !== text.replace(/=+$/, '')) throw invalid('it is not canonical base64');
  } else {
    throw invalid('it is neither base64 nor hex');
  }
  if (bytes.length < MASTER_KEY_MIN_BYTES) {
    throw invalid(`it decodes to ${bytes.length} bytes, fewer than ${MASTER_KEY_MIN_BYTES}`);
  }
  if (bytes.length > MASTER_KEY_MAX_BYTES) throw invalid(`it decodes to more than ${MASTER_KEY_MAX_BYTES} bytes`);
  if (bytes.every((b) => b === bytes[0])) throw invalid('all its bytes are equal (a placeholder, not a key)');
  return bytes;
}

/** Reads `<dataDir>/master.key`, creating it (0600, directory 0700) on first start. */
async function devMasterKey(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, MASTER_KEY_FILE);
  const existing = await readKeyFile(path);
  if (existing !== undefined) return existing;

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  // Write a temporary file completely, then link it into place: the final name either does not
  // exist or holds a whole key, and two processes starting at once agree on one key (EEXIST).
  const tmp = join(dataDir, `.${MASTER_KEY_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const key = randomBytes(MASTER_KEY_MIN_BYTES);
  const handle = await open(tmp, 'wx', 0o600);
  try {
    await handle.writeFile(`${key.toString('base64')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await link(tmp, path);
    return key;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    const raced = await readKeyFile(path);
    if (raced === undefined) throw error;
    return raced;
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}

async function readKeyFile(path: string): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) {
      throw new SecretsError('RAMPART_SECRETS_MASTER_KEY_FILE', `${path} is not a regular file.`);
    }
    // Like ssh with its private keys: a key file others can read is refused, not silently used.
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      throw new SecretsError(
        'RAMPART_SECRETS_MASTER_KEY_FILE',
        `${path} is accessible by other users (mode ${(stat.mode & 0o777).toString(8)}); run \`chmod 600 ${path}\`.`,
      );
    }
    return parseMasterKey(await handle.readFile(), path);
  } finally {
    await handle.close();
  }
}
