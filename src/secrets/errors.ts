/**
 * Errors of the secrets module. These are control-plane errors (start-up, storage), never sent to a
 * client: the message may name a file or a config key, it never carries key material.
 */
export type SecretsErrorCode =
  /** No master key configured outside dev mode. */
  | 'RAMPART_SECRETS_MASTER_KEY_MISSING'
  /** The configured master key is not base64/hex of at least 32 bytes. */
  | 'RAMPART_SECRETS_MASTER_KEY_INVALID'
  /** The dev master key file cannot be used (permissions, type, content). */
  | 'RAMPART_SECRETS_MASTER_KEY_FILE'
  /** An unknown purpose, an empty associated data, a bad argument. */
  | 'RAMPART_SECRETS_BAD_INPUT'
  /** The sealed string is not a Rampart envelope. */
  | 'RAMPART_SECRETS_ENVELOPE_MALFORMED'
  /** No master key of the keyring has this envelope's key id for this purpose. */
  | 'RAMPART_SECRETS_UNKNOWN_KEY'
  /** Authentication failed: wrong associated data, tampered envelope. */
  | 'RAMPART_SECRETS_OPEN_FAILED';

export class SecretsError extends Error {
  readonly code: SecretsErrorCode;

  constructor(code: SecretsErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SecretsError';
    this.code = code;
  }
}
