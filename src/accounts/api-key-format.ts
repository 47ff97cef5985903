/**
 * The API key format (S4): `rmp_<id>_<secret><checksum>`, all base62 after the prefix —
 * - `rmp_`: a fixed prefix, so secret scanners (GitHub push protection, gitleaks, trufflehog) can
 *   recognise a leaked key with a one-line rule: `rmp_[0-9A-Za-z]{12}_[0-9A-Za-z]{49}`;
 * - id: 12 random base62 characters, public (shown by `rampart keys list`, stored in clear);
 * - secret: 43 random base62 characters = 256.03 bits;
 * - checksum: CRC-32 of `rmp_<id>_<secret>` as 6 base62 characters, so a mistyped or truncated key
 *   is refused without a store lookup, and scanners can tell a real key from a lookalike (the
 *   scheme GitHub uses for its tokens). The checksum is no security control: the HMAC is.
 */
import { randomInt } from 'node:crypto';
import { crc32 } from 'node:zlib';

export const API_KEY_PREFIX = 'rmp_';
export const API_KEY_ID_CHARS = 12;
export const API_KEY_SECRET_CHARS = 43;
export const API_KEY_CHECKSUM_CHARS = 6;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const FORMAT = new RegExp(`^${API_KEY_PREFIX}([0-9A-Za-z]{${API_KEY_ID_CHARS}})_([0-9A-Za-z]{${API_KEY_SECRET_CHARS}})([0-9A-Za-z]{${API_KEY_CHECKSUM_CHARS}})$`);
/** The longest a key can be; anything longer is refused before the regular expression runs. */
export const API_KEY_LENGTH = API_KEY_PREFIX.length + API_KEY_ID_CHARS + 1 + API_KEY_SECRET_CHARS + API_KEY_CHECKSUM_CHARS;

/** Uniform random base62 (crypto.randomInt rejects biased draws). */
function randomBase62(length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += BASE62[randomInt(62)];
  return s;
}

function checksum(body: string): string {
  let n = crc32(body);
  let s = '';
  for (let i = 0; i < API_KEY_CHECKSUM_CHARS; i++) {
    s = BASE62[n % 62] + s;
    n = Math.floor(n / 62);
  }
  return s;
}

export interface ParsedApiKey {
  readonly id: string;
  /** `rmp_<id>_<secret>`: what the HMAC covers (the id is bound to the secret). */
  readonly body: string;
}

export function newApiKey(): { readonly id: string; readonly key: string; readonly body: string } {
  const id = randomBase62(API_KEY_ID_CHARS);
  const key = formatApiKey(id, randomBase62(API_KEY_SECRET_CHARS));
  return { id, key, body: key.slice(0, -API_KEY_CHECKSUM_CHARS) };
}

/** `rmp_<id>_<secret><checksum>` from its parts (no check of their length or alphabet). */
export function formatApiKey(id: string, secret: string): string {
  const body = `${API_KEY_PREFIX}${id}_${secret}`;
  return body + checksum(body);
}

/** The parts of a well-formed key with a correct checksum; undefined otherwise. */
export function parseApiKey(presented: string): ParsedApiKey | undefined {
  if (typeof presented !== 'string' || presented.length !== API_KEY_LENGTH) return undefined;
  const m = FORMAT.exec(presented);
  if (!m) return undefined;
  const [, id, secret, sum] = m as unknown as [string, string, string, string];
  const body = `${API_KEY_PREFIX}${id}_${secret}`;
  return checksum(body) === sum ? { id, body } : undefined;
}
