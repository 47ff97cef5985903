/**
 * Demo accounts: alice and bob (customers) and admin, created on the demo's first start with a
 * one-time password each (changed at first login, S7); each enrols an authenticator app (TOTP, QR
 * code) at first login. Later starts leave them alone.
 */
import type { Keyring } from '../../src/secrets/keyring.ts';
import type { Store } from '../../src/store/types.ts';
import { createAccountService } from '../../src/accounts/accounts.ts';

export const DEMO_USERS = [
  { username: 'alice', displayName: 'Alice Example', roles: ['customer'] },
  { username: 'bob', displayName: 'Bob Example', roles: ['customer'] },
  { username: 'admin', displayName: 'Demo Administrator', roles: ['admin'] },
] as const;

export interface Seeded {
  readonly username: string;
  /** Only when created now: printed once. */
  readonly oneTimePassword?: string;
}

export async function seedDemoUsers(store: Store, keyring: Keyring, issuer: string): Promise<Seeded[]> {
  const accounts = createAccountService({ store, keyring, issuer });
  const out: Seeded[] = [];
  for (const u of DEMO_USERS) {
    if (await store.users.getByUsername(u.username)) {
      out.push({ username: u.username });
      continue;
    }
    const created = await accounts.createUser({ username: u.username, displayName: u.displayName, roles: [...u.roles] });
    out.push({ username: u.username, ...(created.oneTimePassword ? { oneTimePassword: created.oneTimePassword } : {}) });
  }
  return out;
}
