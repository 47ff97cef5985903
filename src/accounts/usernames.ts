/**
 * Usernames: NFKC-normalised and lower-cased (so `Alice`, `ALICE` and `Ａｌｉｃｅ` are one account),
 * 1 to 64 letters, digits and `. _ - @ +` — enough for e-mail addresses, nothing that could be read
 * as markup, a path or a subject prefix (`user:`).
 */
const USERNAME = /^[\p{L}\p{N}._@+-]{1,64}$/u;

export function normalizeUsername(username: string): string {
  return username.normalize('NFKC').toLowerCase();
}

/** The normalised username, or undefined when it is not acceptable. */
export function validUsername(username: string): string | undefined {
  if (typeof username !== 'string' || username.length > 256) return undefined;
  const n = normalizeUsername(username);
  return USERNAME.test(n) ? n : undefined;
}
