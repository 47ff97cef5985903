/**
 * One walk over a parsed JSON value with its shape: strips undeclared properties (requests with
 * `unknownProperties: strip`, responses with `responseContract: filter`), drops `writeOnly`
 * properties from responses, normalises strings to NFC (UAX #15: one spelling per text, so that
 * a check and the service see the same characters), and collects what sanitization refuses:
 * control characters, NoSQL operator keys (`$where`, `$ne` — MongoDB reads `$`-prefixed keys as
 * operators) and injection-shaped strings. Changes are made in place on the gateway's own parse.
 */
import { pointerSegment } from '../../core/body/json.ts';
import { safePointer } from '../../core/exchange.ts';
import { checksFor, detectInjection, hasControlCharacters, type InjectionCheck } from './detect/index.ts';
import { isAscii } from './detect/views.ts';
import type { Shape } from './shape.ts';
import { MAX_ERRORS, type Violation } from './violations.ts';

export interface WalkOptions {
  /** Remove properties the schema does not declare. */
  readonly strip: boolean;
  /** Remove properties forbidden here (writeOnly in a response). */
  readonly dropForbidden: boolean;
  readonly nfc: boolean;
  readonly controlCharacters: boolean;
  /** Injection checks enabled on the route (empty: none). */
  readonly checks: ReadonlySet<InjectionCheck>;
  readonly location: NonNullable<Violation['in']>;
  readonly parameter?: string;
}

export interface WalkResult {
  changed: boolean;
  readonly removed: string[];
  readonly findings: Violation[];
}

export function newWalkResult(): WalkResult {
  return { changed: false, removed: [], findings: [] };
}

const checkCache = new WeakMap<Shape, WeakMap<ReadonlySet<InjectionCheck>, ReadonlySet<InjectionCheck>>>();
function checksAt(shape: Shape, enabled: ReadonlySet<InjectionCheck>): ReadonlySet<InjectionCheck> {
  let byEnabled = checkCache.get(shape);
  if (!byEnabled) checkCache.set(shape, (byEnabled = new WeakMap()));
  let c = byEnabled.get(enabled);
  if (!c) byEnabled.set(enabled, (c = checksFor(enabled, shape)));
  return c;
}

// eslint-disable-next-line no-control-regex
const NOT_PLAIN = /[^\x09\x0a\x0d\x20-\x7e]/;
/** NOT_PLAIN, or the punctuation any detector needs (detect/index.ts). */
const NEEDS_LOOK = /[^\x09\x0a\x0d\x20-\x7e]|[<>'"`;#&|$%\\:(=*/]|\.\.|@@|union\s/i;

const EMPTY_CONTEXT = { formats: new Set<string>(), allow: new Set<string>() };
const plainCache = new WeakMap<ReadonlySet<InjectionCheck>, ReadonlySet<InjectionCheck>>();
function plainChecks(enabled: ReadonlySet<InjectionCheck>): ReadonlySet<InjectionCheck> {
  let c = plainCache.get(enabled);
  if (!c) plainCache.set(enabled, (c = checksFor(enabled, EMPTY_CONTEXT)));
  return c;
}

/** Walks `value` (returns it, or its NFC form for a string). */
export function walk(value: unknown, shape: Shape | undefined, o: WalkOptions, r: WalkResult): unknown {
  return walkAt(value, shape, o, r, []);
}

/** The pointer of the current place, built only when something is reported (RFC 6901). */
function pointerOf(path: ReadonlyArray<string | number>): string {
  let out = '';
  for (const seg of path) out += `/${pointerSegment(seg)}`;
  return out;
}

function walkAt(value: unknown, shape: Shape | undefined, o: WalkOptions, r: WalkResult, path: Array<string | number>): unknown {
  if (typeof value === 'string') return walkString(value, shape, o, r, path);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (v === null || (typeof v !== 'object' && typeof v !== 'string')) continue;
      path.push(i);
      const out = walkAt(v, shape?.item(i), o, r, path);
      path.pop();
      if (out !== v) value[i] = out;
    }
    return value;
  }
  const obj = value as Record<string, unknown>;
  for (const key in obj) {
    const child = shape ? shape.prop(key) : undefined;
    if (child === null) {
      if (o.strip) {
        delete obj[key];
        path.push(key);
        r.removed.push(pointerOf(path));
        path.pop();
        r.changed = true;
      }
      continue; // not stripped: the schema reports it (unknownProperty)
    }
    if (child?.forbidden && o.dropForbidden) {
      delete obj[key];
      path.push(key);
      r.removed.push(pointerOf(path));
      path.pop();
      r.changed = true;
      continue;
    }
    path.push(key);
    if (key.charCodeAt(0) === 0x24 && o.checks.has('nosql') && !shape?.declares(key)) finding(r, o, path, 'nosql');
    if (o.controlCharacters && hasControlCharacters(key)) finding(r, o, path, 'control-character');
    const v = obj[key];
    if (v !== null && (typeof v === 'object' || typeof v === 'string')) {
      const out = walkAt(v, child, o, r, path);
      if (out !== v) obj[key] = out;
    }
    path.pop();
  }
  return obj;
}

function walkString(s: string, shape: Shape | undefined, o: WalkOptions, r: WalkResult, path: ReadonlyArray<string | number>): string {
  // Most strings are printable ASCII without any character a detector needs: one native test.
  if (!NEEDS_LOOK.test(s)) return s;
  let value = s;
  // Printable ASCII (with tab and line breaks) needs neither normalisation nor the control check.
  const plain = !NOT_PLAIN.test(s);
  if (o.nfc && !plain && !isAscii(s)) {
    value = s.normalize('NFC');
    if (value !== s) r.changed = true;
  }
  if (o.controlCharacters && !plain && hasControlCharacters(value) && !shape?.allow.has('control-character')) {
    finding(r, o, path, 'control-character');
    return value;
  }
  if (o.checks.size > 0 && r.findings.length < MAX_ERRORS) {
    const rule = detectInjection(value, shape ? checksAt(shape, o.checks) : plainChecks(o.checks));
    if (rule) finding(r, o, path, rule);
  }
  return value;
}

function finding(r: WalkResult, o: WalkOptions, path: ReadonlyArray<string | number>, rule: string): void {
  if (r.findings.length >= MAX_ERRORS) return;
  const pointer = pointerOf(path);
  r.findings.push(o.parameter === undefined ? { in: o.location, pointer: safePointer(pointer), rule } : { in: o.location, parameter: o.parameter, ...(pointer ? { pointer: safePointer(pointer) } : {}), rule });
}
