/**
 * The one JSON parser of the gateway (DESIGN.md "Contracts between the parts": the body is parsed
 * once, with the validation rules, so that authorization and validation never see two parses).
 *
 * Strict RFC 8259 with the I-JSON restrictions of RFC 7493 and the structure limits of S10, all
 * checked while parsing, before any work proportional to a hostile structure is done:
 * - UTF-8 only, no byte order mark (RFC 8259 §8.1); no unpaired surrogate escapes (RFC 7493 §2.1);
 * - duplicate member names refused (RFC 7493 §2.3: "MUST NOT" — parsers disagree on which wins);
 * - `__proto__` members and `constructor.prototype` refused (prototype pollution downstream);
 * - nesting depth, array length, string length and member count bounded;
 * - numbers that overflow a double refused (RFC 7493 §2.2).
 * Recursion depth is bounded by `maxDepth` (at most MAX_DEPTH), so the stack cannot overflow.
 */
import { isUtf8 } from 'node:buffer';

export interface JsonLimits {
  /** Objects and arrays nested deeper than this are refused (the top-level value is depth 1). */
  readonly maxDepth: number;
  readonly maxArrayLength: number;
  /** In UTF-16 code units, for member names and string values alike. */
  readonly maxStringLength: number;
  /** Members of one object. */
  readonly maxProperties: number;
}

/** The hard ceiling of maxDepth (the schema refuses more): keeps recursion far from the stack limit. */
export const MAX_DEPTH = 512;

export const DEFAULT_JSON_LIMITS: JsonLimits = Object.freeze({ maxDepth: 32, maxArrayLength: 10_000, maxStringLength: 100_000, maxProperties: 1_000 });

/** Why a body was refused: `syntax`, `encoding`, `unicode`, `number`, `duplicate-key` and `prototype-key` are malformed input; the others are limits. */
export type JsonRule = 'syntax' | 'encoding' | 'unicode' | 'number' | 'duplicate-key' | 'prototype-key' | 'depth' | 'array-length' | 'string-length' | 'property-count';

export const LIMIT_RULES: ReadonlySet<JsonRule> = new Set(['depth', 'array-length', 'string-length', 'property-count']);

export class JsonParseError extends Error {
  readonly rule: JsonRule;
  /** RFC 6901 pointer of the value where parsing stopped ('' for the root). */
  pointer: string;
  constructor(rule: JsonRule, pointer = '') {
    super(`JSON ${rule}`);
    this.name = 'JsonParseError';
    this.rule = rule;
    this.pointer = pointer;
  }
}

/** RFC 6901 §3: `~` → `~0`, `/` → `~1`. */
export function pointerSegment(key: string | number): string {
  return typeof key === 'number' ? String(key) : key.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function parseJson(input: Buffer | string, limits: JsonLimits = DEFAULT_JSON_LIMITS): unknown {
  let text: string;
  if (typeof input === 'string') text = input;
  else {
    if (!isUtf8(input)) throw new JsonParseError('encoding');
    text = input.toString('utf8');
  }
  if (text.charCodeAt(0) === 0xfeff) throw new JsonParseError('encoding');
  return new Parser(text, limits).document();
}

const CH = { quote: 0x22, backslash: 0x5c, slash: 0x2f, minus: 0x2d, plus: 0x2b, dot: 0x2e, zero: 0x30, nine: 0x39, e: 0x65, E: 0x45 } as const;

class Parser {
  readonly s: string;
  readonly limits: JsonLimits;
  readonly maxDepth: number;
  i = 0;
  /** Member names and indices down to the current value: the pointer of an error. */
  readonly path: Array<string | number> = [];

  constructor(s: string, limits: JsonLimits) {
    this.s = s;
    this.limits = limits;
    this.maxDepth = Math.min(limits.maxDepth, MAX_DEPTH);
  }

  fail(rule: JsonRule): JsonParseError {
    return new JsonParseError(rule, this.path.map((seg) => `/${pointerSegment(seg)}`).join(''));
  }

  document(): unknown {
    this.ws();
    const v = this.value(0, undefined);
    this.ws();
    if (this.i !== this.s.length) throw this.fail('syntax');
    return v;
  }

  /** RFC 8259 §2: insignificant whitespace is space, tab, line feed and carriage return only. */
  ws(): void {
    const s = this.s;
    let i = this.i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  value(depth: number, parentKey: string | undefined): unknown {
    const s = this.s;
    const c = s.charCodeAt(this.i);
    if (c === CH.quote) return this.string();
    if (c === 0x7b) return this.object(depth + 1, parentKey);
    if (c === 0x5b) return this.array(depth + 1);
    if (c === CH.minus || (c >= CH.zero && c <= CH.nine)) return this.number();
    if (c === 0x74 && s.startsWith('true', this.i)) return (this.i += 4), true;
    if (c === 0x66 && s.startsWith('false', this.i)) return (this.i += 5), false;
    if (c === 0x6e && s.startsWith('null', this.i)) return (this.i += 4), null;
    throw this.fail('syntax');
  }

  object(depth: number, parentKey: string | undefined): Record<string, unknown> {
    if (depth > this.maxDepth) throw this.fail('depth');
    const s = this.s;
    const path = this.path;
    this.i++; // {
    const out: Record<string, unknown> = {};
    if (s.charCodeAt(this.i) <= 0x20) this.ws();
    if (s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return out;
    }
    const maxProperties = this.limits.maxProperties;
    let count = 0;
    for (;;) {
      if (s.charCodeAt(this.i) !== CH.quote) throw this.fail('syntax');
      const key = this.string();
      path.push(key);
      if (++count > maxProperties) throw this.fail('property-count');
      // Prototype pollution: a member named __proto__ (JSON.parse makes it an own property, but
      // any merge downstream turns it into a prototype change), and constructor.prototype.
      if (key === '__proto__' || (key === 'prototype' && parentKey === 'constructor')) throw this.fail('prototype-key');
      if (Object.hasOwn(out, key)) throw this.fail('duplicate-key'); // RFC 7493 §2.3
      if (s.charCodeAt(this.i) <= 0x20) this.ws();
      if (s.charCodeAt(this.i) !== 0x3a) throw this.fail('syntax');
      this.i++;
      if (s.charCodeAt(this.i) <= 0x20) this.ws();
      out[key] = this.value(depth, key);
      path.pop();
      if (s.charCodeAt(this.i) <= 0x20) this.ws();
      const c = s.charCodeAt(this.i);
      this.i++;
      if (c === 0x2c) {
        if (s.charCodeAt(this.i) <= 0x20) this.ws();
        continue;
      }
      if (c === 0x7d) return out;
      throw this.fail('syntax');
    }
  }

  array(depth: number): unknown[] {
    if (depth > this.maxDepth) throw this.fail('depth');
    const s = this.s;
    const path = this.path;
    this.i++; // [
    const out: unknown[] = [];
    if (s.charCodeAt(this.i) <= 0x20) this.ws();
    if (s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return out;
    }
    const maxArrayLength = this.limits.maxArrayLength;
    for (;;) {
      const index = out.length;
      path.push(index);
      if (index >= maxArrayLength) throw this.fail('array-length');
      out.push(this.value(depth, undefined));
      path.pop();
      if (s.charCodeAt(this.i) <= 0x20) this.ws();
      const c = s.charCodeAt(this.i);
      this.i++;
      if (c === 0x2c) {
        if (s.charCodeAt(this.i) <= 0x20) this.ws();
        continue;
      }
      if (c === 0x5d) return out;
      throw this.fail('syntax');
    }
  }

  /** RFC 8259 §7. Fast path (no escape, no control character): found and checked natively, one slice. */
  string(): string {
    const s = this.s;
    const start = ++this.i;
    const end = s.indexOf('"', start);
    if (end !== -1) {
      const raw = s.slice(start, end);
      if (!SLOW_STRING.test(raw)) {
        if (raw.length > this.limits.maxStringLength) throw this.fail('string-length');
        this.i = end + 1;
        return raw;
      }
    }
    let i = start;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === CH.backslash) break;
      if (c === CH.quote || c < 0x20 || Number.isNaN(c)) throw this.fail('syntax'); // raw control character or end of input
      i++;
    }
    return this.escapedString(start, i);
  }

  escapedString(start: number, from: number): string {
    const s = this.s;
    const max = this.limits.maxStringLength;
    const parts: string[] = [s.slice(start, from)];
    let length = from - start;
    let i = from;
    let run = i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === CH.quote) {
        parts.push(s.slice(run, i));
        length += i - run;
        if (length > max) throw this.fail('string-length');
        this.i = i + 1;
        return parts.join('');
      }
      if (c < 0x20 || Number.isNaN(c)) throw this.fail('syntax');
      if (c !== CH.backslash) {
        i++;
        continue;
      }
      parts.push(s.slice(run, i));
      length += i - run;
      const e = s.charCodeAt(i + 1);
      let decoded: string;
      switch (e) {
        case 0x22: decoded = '"'; break;
        case 0x5c: decoded = '\\'; break;
        case 0x2f: decoded = '/'; break;
        case 0x62: decoded = '\b'; break;
        case 0x66: decoded = '\f'; break;
        case 0x6e: decoded = '\n'; break;
        case 0x72: decoded = '\r'; break;
        case 0x74: decoded = '\t'; break;
        case 0x75: {
          const unit = hex4(s, i + 2);
          if (unit < 0) throw this.fail('syntax');
          if (unit >= 0xd800 && unit <= 0xdbff) {
            // A high surrogate must be followed by an escaped low surrogate (RFC 7493 §2.1).
            const low = s.charCodeAt(i + 6) === CH.backslash && s.charCodeAt(i + 7) === 0x75 ? hex4(s, i + 8) : -1;
            if (low < 0xdc00 || low > 0xdfff) throw this.fail('unicode');
            decoded = String.fromCharCode(unit, low);
            i += 6;
          } else if (unit >= 0xdc00 && unit <= 0xdfff) throw this.fail('unicode');
          else decoded = String.fromCharCode(unit);
          i += 4;
          break;
        }
        default:
          throw this.fail('syntax');
      }
      parts.push(decoded);
      length += decoded.length;
      if (length > max) throw this.fail('string-length');
      i += 2;
      run = i;
    }
  }

  /** RFC 8259 §6: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
  number(): number {
    const s = this.s;
    const start = this.i;
    let i = start;
    if (s.charCodeAt(i) === CH.minus) i++;
    let c = s.charCodeAt(i);
    if (c === CH.zero) i++;
    else if (c >= 0x31 && c <= CH.nine) {
      do i++;
      while (isDigit(s.charCodeAt(i)));
    } else throw this.fail('syntax');
    if (s.charCodeAt(i) === CH.dot) {
      i++;
      if (!isDigit(s.charCodeAt(i))) throw this.fail('syntax');
      do i++;
      while (isDigit(s.charCodeAt(i)));
    }
    c = s.charCodeAt(i);
    if (c === CH.e || c === CH.E) {
      i++;
      c = s.charCodeAt(i);
      if (c === CH.plus || c === CH.minus) i++;
      if (!isDigit(s.charCodeAt(i))) throw this.fail('syntax');
      do i++;
      while (isDigit(s.charCodeAt(i)));
    }
    if (i - start > 400) throw this.fail('number'); // no number needs more digits than this
    this.i = i;
    const n = Number(s.slice(start, i));
    if (!Number.isFinite(n)) throw this.fail('number'); // RFC 7493 §2.2
    return n;
  }
}

/** A backslash or a raw control character (RFC 8259 §7 requires those escaped). */
// eslint-disable-next-line no-control-regex
const SLOW_STRING = /[\\\x00-\x1f]/;

function isDigit(c: number): boolean {
  return c >= CH.zero && c <= CH.nine;
}

function hex4(s: string, at: number): number {
  let n = 0;
  for (let k = 0; k < 4; k++) {
    const c = s.charCodeAt(at + k);
    let d: number;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
    else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
    else return -1;
    n = n * 16 + d;
  }
  return n;
}
