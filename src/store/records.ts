/**
 * Helpers shared by the store backends: the clock, applying a user change, optional fields.
 */
import { StoreError } from './errors.ts';
import type { UserChange, UserRecord } from './types.ts';

/** Seconds since the epoch; backends take one so that tests can move time. */
export type StoreClock = () => number;

export const epochNow: StoreClock = () => Date.now() / 1000;

/** The fields of a user that may be absent; every other field is required. */
const OPTIONAL_USER_FIELDS = new Set<string>(['displayName', 'email', 'totpSecretSealed', 'totpLastStep']);

/** Checks a change: only known fields; `undefined` only for optional ones. */
export function checkUserChange(change: UserChange): void {
  for (const [key, value] of Object.entries(change)) {
    if (key === 'id' || key === 'createdAt') throw new StoreError('RAMPART_STORE_BAD_INPUT', `A user's ${key} cannot change.`);
    if (!USER_FIELDS.has(key)) throw new StoreError('RAMPART_STORE_BAD_INPUT', `Unknown user field ${key.slice(0, 40)}.`);
    if (value === undefined && !OPTIONAL_USER_FIELDS.has(key)) throw new StoreError('RAMPART_STORE_BAD_INPUT', `The user field ${key} cannot be cleared.`);
  }
}

const USER_FIELDS = new Set<string>([
  'username', 'displayName', 'email', 'passwordHash', 'mustChangePassword', 'roles', 'totpSecretSealed', 'totpLastStep',
  'recoveryCodeHashes', 'disabled', 'updatedAt',
]);

/** The user after `change`; `updatedAt` is the given time unless the change sets it. */
export function applyUserChange(user: UserRecord, change: UserChange, now: number): UserRecord {
  checkUserChange(change);
  const next: Record<string, unknown> = { ...user, updatedAt: now };
  for (const [key, value] of Object.entries(change)) {
    if (value === undefined) delete next[key];
    else next[key] = value;
  }
  return next as unknown as UserRecord;
}

/** `{ key: value }` when value is defined, else `{}` (exactOptionalPropertyTypes). */
export function opt<K extends string, V>(key: K, value: V | null | undefined): { [P in K]?: V } {
  return (value === null || value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

/**
 * Text every backend stores unchanged: PostgreSQL refuses NUL in `text`, and a lone surrogate
 * would be replaced when encoded as UTF-8 (a different id than the one written).
 */
export function storable(text: string): boolean {
  return !text.includes('\u0000') && text.isWellFormed();
}

/** Refuses a record whose strings (or arrays of strings) at the top level are not storable. */
export function assertStorable(record: object): void {
  for (const [key, value] of Object.entries(record)) {
    const texts = typeof value === 'string' ? [value] : Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
    if (!texts.every(storable)) throw new StoreError('RAMPART_STORE_BAD_INPUT', `The field ${key} holds NUL or a lone surrogate.`);
  }
}

/** Lookup keys that cannot have been stored find nothing (rather than failing). */
export function lookupable(...keys: readonly string[]): boolean {
  return keys.every(storable);
}
