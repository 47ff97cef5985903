/**
 * The keyring: one subkey per purpose, derived from the master key, and the envelope that seals
 * secrets at rest (DESIGN.md S4).
 *
 * - Subkeys: HKDF-SHA256 (RFC 5869) of the master key, `info` naming the purpose, so a key leaked
 *   from one purpose opens nothing of another.
 * - Key id (kid): the first 8 bytes of SHA-256 of the sealing subkey, base64url. It names the pair
 *   (master key, purpose) without revealing either.
 * - Envelope: `rk1.<kid>.<iv>.<ciphertext>.<tag>` (base64url parts), AES-256-GCM with a 96-bit
 *   random IV (NIST SP 800-38D §8.2.2) and a 128-bit tag. The associated data binds the envelope to
 *   its version, purpose, kid and row id, so a sealed value copied to another row does not open.
 * - Rotation: the keyring holds several master keys, newest first. The newest seals; any opens
 *   (chosen by kid); `needsReseal`/`reseal` migrate rows, after which the old key can be dropped.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { SecretsError } from './errors.ts';
import { MASTER_KEY_MIN_BYTES } from './master-key.ts';

export const KEY_PURPOSES = ['signing-keys', 'totp-secrets', 'api-key-pepper', 'identity-key', 'client-secrets', 'oidc-artefacts'] as const;
export type KeyPurpose = (typeof KEY_PURPOSES)[number];

export const ENVELOPE_VERSION = 'rk1';
const HKDF_SALT = Buffer.from('rampart/keyring/v1', 'utf8');
const IV_BYTES = 12;
const TAG_BYTES = 16;
const B64URL = /^[A-Za-z0-9_-]*$/;

export interface Keyring {
  /** The key id that seals for this purpose now (from the newest master key). */
  currentKid(purpose: KeyPurpose): string;
  /** Every key id that opens for this purpose, newest first. */
  kids(purpose: KeyPurpose): readonly string[];
  /** AES-256-GCM envelope of `plaintext`, bound to `aad` (the row id). */
  seal(purpose: KeyPurpose, plaintext: Uint8Array | string, aad: string): string;
  /** The plaintext of an envelope; throws a SecretsError if kid, purpose, aad or bytes disagree. */
  open(purpose: KeyPurpose, envelope: string, aad: string): Buffer;
  /** True when the envelope was sealed by an older master key (rotation pending for this row). */
  needsReseal(purpose: KeyPurpose, envelope: string): boolean;
  /** Opens with whichever key sealed it, seals again with the newest. */
  reseal(purpose: KeyPurpose, envelope: string, aad: string): string;
  /**
   * HMAC-SHA256 with the purpose's MAC subkey (distinct from its sealing subkey), e.g. the API-key
   * pepper. Without `kid`, the newest key; with `kid`, that key (to check a stored MAC).
   */
  mac(purpose: KeyPurpose, data: Uint8Array | string, kid?: string): { readonly kid: string; readonly mac: string };
}

interface Subkey {
  readonly kid: string;
  readonly seal: Buffer;
  readonly mac: Buffer;
}

/** `masterKeys`: one key, or several for rotation, the newest first. */
export function createKeyring(masterKeys: Uint8Array | readonly Uint8Array[]): Keyring {
  const list = masterKeys instanceof Uint8Array ? [masterKeys] : [...masterKeys];
  if (list.length === 0) throw new SecretsError('RAMPART_SECRETS_BAD_INPUT', 'The keyring needs at least one master key.');
  for (const key of list) {
    if (key.length < MASTER_KEY_MIN_BYTES) {
      throw new SecretsError('RAMPART_SECRETS_BAD_INPUT', `A master key must have at least ${MASTER_KEY_MIN_BYTES} bytes.`);
    }
  }

  const byPurpose = new Map<KeyPurpose, Subkey[]>();
  for (const purpose of KEY_PURPOSES) {
    const subkeys: Subkey[] = [];
    for (const master of list) {
      const sealKey = derive(master, `rampart/${purpose}/seal`);
      const kid = createHash('sha256').update(sealKey).digest().subarray(0, 8).toString('base64url');
      // The same master key given twice (e.g. old and new equal) is one key, not a kid collision.
      if (subkeys.some((s) => s.kid === kid)) continue;
      subkeys.push({ kid, seal: sealKey, mac: derive(master, `rampart/${purpose}/mac`) });
    }
    byPurpose.set(purpose, subkeys);
  }

  const subkeysOf = (purpose: KeyPurpose): Subkey[] => {
    const found = byPurpose.get(purpose);
    if (found === undefined) throw new SecretsError('RAMPART_SECRETS_BAD_INPUT', `Unknown key purpose: ${String(purpose)}.`);
    return found;
  };
  const newest = (purpose: KeyPurpose): Subkey => subkeysOf(purpose)[0] as Subkey;
  const byKid = (purpose: KeyPurpose, kid: string): Subkey => {
    const found = subkeysOf(purpose).find((s) => s.kid === kid);
    if (found === undefined) {
      throw new SecretsError(
        'RAMPART_SECRETS_UNKNOWN_KEY',
        `No master key of the keyring has key id ${kid} for purpose ${purpose} ` +
          '(sealed for another purpose, or by a master key that is no longer configured).',
      );
    }
    return found;
  };

  const open = (purpose: KeyPurpose, envelope: string, aad: string): Buffer => {
    checkAad(aad);
    const parts = parseEnvelope(envelope);
    const subkey = byKid(purpose, parts.kid);
    const decipher = createDecipheriv('aes-256-gcm', subkey.seal, parts.iv, { authTagLength: TAG_BYTES });
    decipher.setAAD(associatedData(purpose, parts.kid, aad));
    decipher.setAuthTag(parts.tag);
    try {
      return Buffer.concat([decipher.update(parts.ciphertext), decipher.final()]);
    } catch (error) {
      throw new SecretsError(
        'RAMPART_SECRETS_OPEN_FAILED',
        `Sealed ${purpose} value failed authentication (wrong row id, or altered).`,
        { cause: error },
      );
    }
  };

  const seal = (purpose: KeyPurpose, plaintext: Uint8Array | string, aad: string): string => {
    checkAad(aad);
    const subkey = newest(purpose);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', subkey.seal, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(associatedData(purpose, subkey.kid, aad));
    const data = typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext;
    const ciphertext = Buffer.concat([cipher.update(data), cipher.final()]);
    return [ENVELOPE_VERSION, subkey.kid, iv, ciphertext, cipher.getAuthTag()]
      .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
      .join('.');
  };

  return Object.freeze({
    currentKid: (purpose: KeyPurpose) => newest(purpose).kid,
    kids: (purpose: KeyPurpose) => subkeysOf(purpose).map((s) => s.kid),
    seal,
    open,
    needsReseal: (purpose: KeyPurpose, envelope: string) => parseEnvelope(envelope).kid !== newest(purpose).kid,
    reseal: (purpose: KeyPurpose, envelope: string, aad: string) => seal(purpose, open(purpose, envelope, aad), aad),
    mac: (purpose: KeyPurpose, data: Uint8Array | string, kid?: string) => {
      const subkey = kid === undefined ? newest(purpose) : byKid(purpose, kid);
      return { kid: subkey.kid, mac: createHmac('sha256', subkey.mac).update(data).digest('base64url') };
    },
  });
}

function derive(master: Uint8Array, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', master, HKDF_SALT, Buffer.from(info, 'utf8'), 32));
}

function associatedData(purpose: KeyPurpose, kid: string, aad: string): Buffer {
  // Length-free separators are safe here: version, purpose and kid contain no NUL.
  return Buffer.from(`${ENVELOPE_VERSION}\u0000${purpose}\u0000${kid}\u0000${aad}`, 'utf8');
}

function checkAad(aad: string): void {
  if (typeof aad !== 'string' || aad.length === 0) {
    throw new SecretsError('RAMPART_SECRETS_BAD_INPUT', 'Sealing needs the row id as associated data (a non-empty string).');
  }
}

interface EnvelopeParts {
  readonly kid: string;
  readonly iv: Buffer;
  readonly ciphertext: Buffer;
  readonly tag: Buffer;
}

function parseEnvelope(envelope: string): EnvelopeParts {
  const malformed = (why: string): SecretsError =>
    new SecretsError('RAMPART_SECRETS_ENVELOPE_MALFORMED', `Not a Rampart sealed value: ${why}.`);
  if (typeof envelope !== 'string') throw malformed('not a string');
  const parts = envelope.split('.');
  if (parts.length !== 5) throw malformed('expected 5 dot-separated parts');
  const [version, kid, iv, ciphertext, tag] = parts as [string, string, string, string, string];
  if (version !== ENVELOPE_VERSION) throw malformed(`unsupported version ${JSON.stringify(version.slice(0, 16))}`);
  if (![kid, iv, ciphertext, tag].every((p) => B64URL.test(p))) throw malformed('a part is not base64url');
  const parsed = {
    kid,
    iv: Buffer.from(iv, 'base64url'),
    ciphertext: Buffer.from(ciphertext, 'base64url'),
    tag: Buffer.from(tag, 'base64url'),
  };
  if (kid.length === 0) throw malformed('empty key id');
  if (parsed.iv.length !== IV_BYTES) throw malformed('bad IV length');
  if (parsed.tag.length !== TAG_BYTES) throw malformed('bad tag length');
  return parsed;
}
