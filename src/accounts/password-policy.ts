/**
 * The password policy (S7; NIST SP 800-63B §5.1.1.2): 8 to 128 characters counted after NFKC
 * normalisation (any Unicode; never truncated), not a known breached or common password, not the
 * username. Composition rules and periodic expiry are deliberately absent (§5.1.1.2 says not to).
 */
import { readFileSync } from 'node:fs';
import { normalizePassword } from './password-hash.ts';

export const PASSWORD_MIN_CHARS = 8;
export const PASSWORD_MAX_CHARS = 128;

export type PasswordProblem = 'too_short' | 'too_long' | 'breached' | 'same_as_username' | 'control_characters';

/** Public text for each problem (shown on the password pages and by the CLI). */
export const PASSWORD_PROBLEM_TEXT: Readonly<Record<PasswordProblem, string>> = {
  too_short: `must have at least ${PASSWORD_MIN_CHARS} characters`,
  too_long: `must have at most ${PASSWORD_MAX_CHARS} characters`,
  breached: 'is a commonly used or breached password: choose another',
  same_as_username: 'must not be the username',
  control_characters: 'must not contain control characters',
};

let breached: Set<string> | undefined;

/** The bundled list (data/common-passwords.txt), loaded on first use. */
export function breachedPasswords(): ReadonlySet<string> {
  breached ??= new Set(readFileSync(new URL('./data/common-passwords.txt', import.meta.url), 'utf8').split('\n').filter(Boolean));
  return breached;
}

export function checkPassword(password: string, context: { username?: string } = {}): PasswordProblem[] {
  const p = normalizePassword(password);
  const chars = [...p].length;
  const problems: PasswordProblem[] = [];
  if (chars < PASSWORD_MIN_CHARS) problems.push('too_short');
  if (chars > PASSWORD_MAX_CHARS) problems.push('too_long');
  // C0/C1 controls cannot be typed and break forms and logs; spaces and any other character are fine.
  if (/\p{Cc}/u.test(p)) problems.push('control_characters');
  const lower = p.toLowerCase();
  if (breachedPasswords().has(lower)) problems.push('breached');
  if (context.username !== undefined && lower === context.username.normalize('NFKC').toLowerCase()) problems.push('same_as_username');
  return problems;
}
