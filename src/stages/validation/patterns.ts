/**
 * S10: OpenAPI `pattern`s run in linear time, or are refused at load.
 *
 * Two engines, chosen per pattern once:
 * - V8's own RegExp for patterns that provably cannot backtrack more than linearly: anchored with
 *   `^`, a sequence of single-character atoms (literals, classes, `.`, `\d`, `\w`, `\s`), and every
 *   variable-length atom's characters disjoint from whatever may follow it — so a greedy atom never
 *   has a reason to give a character back. Most API patterns (`^[A-Z]{2,8}-[0-9]{3}$`) are of this
 *   kind and keep V8's speed.
 * - RE2JS (a linear-time automaton, the RE2 algorithm in JavaScript) for everything else. A pattern
 *   RE2 cannot run (lookaround, backreferences) is refused: it is exactly what backtracking needs.
 */
import { RE2JS } from 're2js';

export interface RegExpLike {
  test(s: string): boolean;
}

type Ranges = Array<[number, number]>;
const MAX = 0x10ffff;

/** Why a pattern is refused, or undefined when it can run in linear time. */
export function checkPattern(pattern: string): string | undefined {
  try {
    new RegExp(pattern, 'u');
  } catch {
    return 'not a valid ECMA-262 regular expression (with the u flag)';
  }
  if (isLinearOnBacktracking(pattern)) return undefined;
  try {
    RE2JS.compile(toRe2(pattern));
    return undefined;
  } catch {
    return 'needs a backtracking engine (lookaround, backreference): refused, patterns run on a linear-time engine (S10)';
  }
}

/** Ajv's `code.regExp`: the engine for `pattern` and `patternProperties`. */
export function linearRegExp(pattern: string, flags: string): RegExpLike {
  if (isLinearOnBacktracking(pattern)) return new RegExp(pattern, flags);
  const re = RE2JS.compile(toRe2(pattern));
  return { test: (s: string) => re.test(s), toString: () => `re2:${pattern}` } as RegExpLike;
}
linearRegExp.code = 'linearRegExp';

/** ECMA-262 escapes RE2 spells differently: \uHHHH and \u{H…} → \x{…}, \0 → \x00. */
export function toRe2(pattern: string): string {
  return pattern.replace(/\\(\\|u\{([0-9a-fA-F]{1,6})\}|u([0-9a-fA-F]{4})|0(?![0-9]))/g, (m, _all, braced?: string, four?: string) => {
    if (m === '\\\\') return m;
    if (braced !== undefined) return `\\x{${braced}}`;
    if (four !== undefined) return `\\x{${four}}`;
    return '\\x00';
  });
}

interface Atom {
  readonly set: Ranges;
  readonly min: number;
  readonly max: number;
}

/** True when V8's backtracking engine provably runs `pattern` in linear time (see above). */
export function isLinearOnBacktracking(pattern: string): boolean {
  const atoms = parseSequence(pattern);
  if (atoms === undefined) return false;
  for (let i = 0; i < atoms.length; i++) {
    const a = atoms[i] as Atom;
    if (a.min === a.max) continue;
    for (let j = i + 1; j < atoms.length; j++) {
      const b = atoms[j] as Atom;
      if (intersects(a.set, b.set)) return false;
      if (b.min > 0) break;
    }
  }
  return true;
}

function parseSequence(p: string): Atom[] | undefined {
  if (!p.startsWith('^')) return undefined;
  let i = 1;
  let end = p.length;
  if (p.endsWith('$') && !isEscaped(p, p.length - 1)) end--;
  const atoms: Atom[] = [];
  while (i < end) {
    let set: Ranges | undefined;
    const c = p[i] as string;
    if (c === '[') {
      const r = parseClass(p, i + 1, end);
      if (!r) return undefined;
      set = r.set;
      i = r.next;
    } else if (c === '\\') {
      const r = parseEscape(p, i + 1);
      if (!r) return undefined;
      set = r.set;
      i = r.next;
    } else if (c === '.') {
      set = complement([[0x0a, 0x0a], [0x0d, 0x0d], [0x2028, 0x2029]]);
      i++;
    } else if ('^$|?*+(){}]'.includes(c)) return undefined;
    else {
      const cp = p.codePointAt(i) as number;
      set = [[cp, cp]];
      i += cp > 0xffff ? 2 : 1;
    }
    let min = 1;
    let max = 1;
    const q = p[i];
    if (q === '*' || q === '+' || q === '?') {
      min = q === '+' ? 1 : 0;
      max = q === '?' ? 1 : Infinity;
      i++;
    } else if (q === '{') {
      const m = /^\{(\d{1,5})(,(\d{0,5}))?\}/.exec(p.slice(i));
      if (!m) return undefined;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
      if (max < min) return undefined;
      i += m[0].length;
    }
    if (p[i] === '?' && (min !== max)) i++; // lazy: another order, the same bound
    if (i < end && '*+?{'.includes(p[i] as string)) return undefined;
    atoms.push({ set, min, max });
  }
  return atoms;
}

function parseClass(p: string, start: number, end: number): { set: Ranges; next: number } | undefined {
  let i = start;
  const negate = p[i] === '^';
  if (negate) i++;
  const out: Ranges = [];
  let first = true;
  while (i < end) {
    const c = p[i] as string;
    if (c === ']' && !first) {
      return { set: negate ? complement(out) : normalise(out), next: i + 1 };
    }
    first = false;
    let lo: number;
    if (c === '\\') {
      const r = parseEscape(p, i + 1, true);
      if (!r) return undefined;
      i = r.next;
      if (r.single === undefined) {
        out.push(...r.set);
        continue;
      }
      lo = r.single;
    } else if (c === '[') return undefined;
    else {
      lo = p.codePointAt(i) as number;
      i += lo > 0xffff ? 2 : 1;
    }
    if (p[i] === '-' && p[i + 1] !== ']' && i + 1 < end) {
      let hi: number;
      if (p[i + 1] === '\\') {
        const r = parseEscape(p, i + 2, true);
        if (!r || r.single === undefined) return undefined;
        hi = r.single;
        i = r.next;
      } else {
        hi = p.codePointAt(i + 1) as number;
        i += hi > 0xffff ? 3 : 2;
      }
      if (hi < lo) return undefined;
      out.push([lo, hi]);
    } else out.push([lo, lo]);
  }
  return undefined;
}

const DIGIT: Ranges = [[0x30, 0x39]];
const WORD: Ranges = [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]];
const SPACE: Ranges = [[0x09, 0x0d], [0x20, 0x20], [0xa0, 0xa0], [0x1680, 0x1680], [0x2000, 0x200a], [0x2028, 0x2029], [0x202f, 0x202f], [0x205f, 0x205f], [0x3000, 0x3000], [0xfeff, 0xfeff]];
const SIMPLE: Record<string, number> = { t: 0x09, n: 0x0a, r: 0x0d, v: 0x0b, f: 0x0c };

function parseEscape(p: string, i: number, inClass = false): { set: Ranges; single?: number; next: number } | undefined {
  const c = p[i];
  if (c === undefined) return undefined;
  const single = (cp: number, next: number) => ({ set: [[cp, cp]] as Ranges, single: cp, next });
  switch (c) {
    case 'd': return { set: DIGIT, next: i + 1 };
    case 'D': return { set: complement(DIGIT), next: i + 1 };
    case 'w': return { set: WORD, next: i + 1 };
    case 'W': return { set: complement(WORD), next: i + 1 };
    case 's': return { set: SPACE, next: i + 1 };
    case 'S': return { set: complement(SPACE), next: i + 1 };
    case 'x': {
      const m = /^[0-9a-fA-F]{2}/.exec(p.slice(i + 1));
      return m ? single(parseInt(m[0], 16), i + 3) : undefined;
    }
    case 'u': {
      const m = /^[0-9a-fA-F]{4}/.exec(p.slice(i + 1));
      return m ? single(parseInt(m[0], 16), i + 5) : undefined;
    }
    case '0':
      return /[0-9]/.test(p[i + 1] ?? '') ? undefined : single(0, i + 1);
    default:
      if (c in SIMPLE) return single(SIMPLE[c] as number, i + 1);
      if ('\\/.^$|?*+()[]{}'.includes(c) || (inClass && c === '-')) return single(c.charCodeAt(0), i + 1);
      return undefined; // \b, \B, backreferences, \p{…}, \c…: not in the simple class
  }
}

function isEscaped(p: string, at: number): boolean {
  let n = 0;
  for (let k = at - 1; k >= 0 && p[k] === '\\'; k--) n++;
  return n % 2 === 1;
}

function normalise(r: Ranges): Ranges {
  const s = [...r].sort((a, b) => a[0] - b[0]);
  const out: Ranges = [];
  for (const [lo, hi] of s) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function complement(r: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of normalise(r)) {
    if (lo > next) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX) out.push([next, MAX]);
  return out;
}

function intersects(a: Ranges, b: Ranges): boolean {
  for (const [alo, ahi] of a) for (const [blo, bhi] of b) if (alo <= bhi && blo <= ahi) return true;
  return false;
}
