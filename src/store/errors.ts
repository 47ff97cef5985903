/**
 * Errors of the store. Control-plane errors: a stage that meets one denies (fail closed) with its own
 * catalog code; the message may name a table or an id, never a secret.
 */
export type StoreErrorCode =
  /** A record with this id (or username, for users) already exists. */
  | 'RAMPART_STORE_CONFLICT'
  /** The backend cannot be reached or answered with an error (connection, timeout, I/O). */
  | 'RAMPART_STORE_UNAVAILABLE'
  /** A value the store refuses (e.g. clearing a required field). */
  | 'RAMPART_STORE_BAD_INPUT'
  /** The database was migrated by a newer Rampart than this one. */
  | 'RAMPART_STORE_SCHEMA_TOO_NEW'
  /** The store was closed. */
  | 'RAMPART_STORE_CLOSED';

export class StoreError extends Error {
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreError';
    this.code = code;
  }
}
