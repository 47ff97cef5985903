/**
 * Decoded views of a string for the injection checks: what a browser, a shell or a file system
 * may end up seeing after the layers of encoding an attacker wraps a payload in. Only used to
 * look; the value itself is never changed by these.
 */

/** NFKC folds compatibility characters (fullwidth ＜ → <, ｓｃｒｉｐｔ → script) that a backend may fold too. */
export function folded(s: string): string {
  return isAscii(s) ? s.toLowerCase() : s.normalize('NFKC').toLowerCase();
}

/** Up to three rounds of percent-decoding (double and triple encoding), and overlong UTF-8 slashes. */
export function percentDecoded(s: string): string {
  let out = s;
  for (let round = 0; round < 3 && out.includes('%'); round++) {
    const next = out
      .replace(/%(?:c0%af|e0%80%af|c1%9c|c0%2f|c0%5c)/gi, '/')
      .replace(/%u([0-9a-f]{4})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)))
      .replace(/%([0-9a-f]{2})/gi, (_m, h: string) => String.fromCharCode(parseInt(h, 16)));
    if (next === out) break;
    out = next;
  }
  return out;
}

const NAMED: Record<string, string> = { lt: '<', gt: '>', quot: '"', apos: "'", amp: '&', colon: ':', tab: '\t', newline: '\n', sol: '/', lpar: '(', rpar: ')', equals: '=', grave: '`', bsol: '\\', semi: ';' };

/** HTML character references (decimal, hex, the named ones that matter), twice for &amp;lt;. */
export function entityDecoded(s: string): string {
  let out = s;
  for (let round = 0; round < 2 && out.includes('&'); round++) {
    out = out.replace(/&(?:#x([0-9a-f]{1,6})|#(\d{1,7})|([a-z]{2,8}));?/gi, (m, hex?: string, dec?: string, name?: string) => {
      const cp = hex !== undefined ? parseInt(hex, 16) : dec !== undefined ? Number(dec) : undefined;
      if (cp !== undefined) return cp <= 0x10ffff ? String.fromCodePoint(cp) : m;
      return NAMED[(name ?? '').toLowerCase()] ?? m;
    });
  }
  return out;
}

const NON_ASCII = /[^\x00-\x7f]/;
export function isAscii(s: string): boolean {
  return !NON_ASCII.test(s);
}
