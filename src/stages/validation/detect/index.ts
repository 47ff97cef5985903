/**
 * The string checks of sanitization, chosen per value from its schema: control characters, then
 * the injection detectors. Formats control false positives (OWASP Input Validation Cheat Sheet:
 * validate against what the field is): a `password` is hashed, never interpreted, so no detector
 * runs on it; `markdown` (or `contentMediaType: text/markdown`) may show code, so neither XSS nor
 * command checks run; `binary`/`byte` carry no text; `uri`/`url`/`iri` get the SSRF check. A
 * schema can switch checks off for one value with `x-rampart-allow: [sqli, xss, …]`.
 */
import { looksLikeCommandInjection } from './command.ts';
import { looksLikeSqlInjection } from './sqli.ts';
import { looksLikeSsrf } from './ssrf.ts';
import { looksLikeTraversal } from './traversal.ts';
import { entityDecoded, folded, isAscii, percentDecoded } from './views.ts';
import { looksLikeXss } from './xss.ts';

export const INJECTION_CHECKS = ['sqli', 'nosql', 'xss', 'traversal', 'command', 'ssrf'] as const;
export type InjectionCheck = (typeof INJECTION_CHECKS)[number];
/** Rules reported in `errors[].rule`. */
export type SanitizeRule = InjectionCheck | 'control-character';

const SKIP_BY_FORMAT: Record<string, readonly InjectionCheck[]> = {
  password: ['sqli', 'xss', 'traversal', 'command'],
  markdown: ['xss', 'command'],
  'text/markdown': ['xss', 'command'],
  binary: ['sqli', 'xss', 'traversal', 'command'],
  byte: ['sqli', 'xss', 'traversal', 'command'],
};
const URI_FORMATS = new Set(['uri', 'url', 'iri']);

/**
 * Control characters refused by default: C0 except tab, line feed and carriage return, DEL, C1,
 * and the bidirectional overrides and isolates that make text read other than it runs (CVE-2021-42574).
 */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

export function hasControlCharacters(s: string): boolean {
  return CONTROL.test(s);
}

export interface StringContext {
  readonly formats: ReadonlySet<string>;
  readonly allow: ReadonlySet<string>;
}

/** The checks that apply to a value of this schema context, from the route's enabled set. */
export function checksFor(enabled: ReadonlySet<InjectionCheck>, ctx: StringContext): ReadonlySet<InjectionCheck> {
  const out = new Set(enabled);
  for (const f of ctx.formats) for (const c of SKIP_BY_FORMAT[f] ?? []) out.delete(c);
  for (const a of ctx.allow) out.delete(a as InjectionCheck);
  if (![...ctx.formats].some((f) => URI_FORMATS.has(f))) out.delete('ssrf');
  out.delete('nosql'); // a property-name check, not a string check
  return out;
}

/**
 * What any string detector needs: punctuation (quotes, angle brackets, shell and SQL
 * metacharacters, slashes, `=`, parentheses, percent and entity escapes), `@@`, or `union `
 * (UNION SELECT works in a numeric context without any punctuation). Every detector rule needs one
 * of these, so a string with none (identifiers, names, numbers, e-mail addresses, most prose) is
 * passed after two cheap native tests.
 */
// eslint-disable-next-line no-control-regex
const PUNCTUATION = /[<>'"`;#&|$%\\\0\n\r:(=*/]|\.\.|@@/;
const UNION = /union\s/i;

function suspect(s: string): boolean {
  return PUNCTUATION.test(s) || UNION.test(s);
}

/** The first injection rule the string trips, or undefined. */
export function detectInjection(s: string, checks: ReadonlySet<InjectionCheck>): InjectionCheck | undefined {
  if (s.length < 2) return undefined;
  if (checks.has('ssrf') && looksLikeSsrf(s)) return 'ssrf';
  const ascii = isAscii(s);
  if (ascii && !suspect(s)) return undefined;
  const lower = folded(s);
  if (!ascii && !suspect(lower)) return undefined;
  if (checks.has('sqli') && looksLikeSqlInjection(lower)) return 'sqli';
  const needsDecoding = lower.includes('%') || lower.includes('&');
  const decoded = needsDecoding ? entityDecoded(percentDecoded(lower)).toLowerCase() : lower;
  if (checks.has('xss') && (looksLikeXss(lower) || (needsDecoding && looksLikeXss(decoded)))) return 'xss';
  if (checks.has('command') && looksLikeCommandInjection(decoded)) return 'command';
  if (checks.has('traversal') && looksLikeTraversal(decoded)) return 'traversal';
  if (needsDecoding && checks.has('sqli') && looksLikeSqlInjection(decoded)) return 'sqli';
  return undefined;
}
