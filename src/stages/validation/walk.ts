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

const EMPTY_CONTEXT = { formats: new Set<string>(), allow: new Set<string>() };
const plainCache = new WeakMap<ReadonlySet<InjectionCheck>, ReadonlySet<InjectionCheck>>();
function plainChecks(enabled: ReadonlySet<InjectionCheck>): ReadonlySet<InjectionCheck> {
  let c = plainCache.get(enabled);
  if (!c) plainCache.set(enabled, (c = checksFor(enabled, EMPTY_CONTEXT)));
  return c;
}

/** Walks `value` (returns it, or its NFC form for a string). */
export function walk(value: unknown, shape: Shape | undefined, o: WalkOptions, r: WalkResult, pointer = ''): unknown {
  if (typeof value === 'string') return walkString(value, shape, o, r, pointer);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      const out = walk(v, shape?.item(i), o, r, `${pointer}/${i}`);
      if (out !== v) value[i] = out;
    }
    return value;
  }
  const obj = value as Record<string, unknown>;
  for (const key of Object.keys(obj)) {
    const here = `${pointer}/${pointerSegment(key)}`;
    const child = shape ? shape.prop(key) : undefined;
    if (child === null) {
      if (o.strip) {
        delete obj[key];
        r.removed.push(here);
        r.changed = true;
      }
      continue; // not stripped: the schema reports it (unknownProperty)
    }
    if (child?.forbidden && o.dropForbidden) {
      delete obj[key];
      r.removed.push(here);
      r.changed = true;
      continue;
    }
    if (key.charCodeAt(0) === 0x24 && o.checks.has('nosql') && !shape?.declares(key)) finding(r, o, here, 'nosql');
    if (o.controlCharacters && hasControlCharacters(key)) finding(r, o, here, 'control-character');
    const v = obj[key];
    const out = walk(v, child, o, r, here);
    if (out !== v) obj[key] = out;
  }
  return obj;
}

function walkString(s: string, shape: Shape | undefined, o: WalkOptions, r: WalkResult, pointer: string): string {
  let value = s;
  if (o.nfc && !isAscii(s)) {
    value = s.normalize('NFC');
    if (value !== s) r.changed = true;
  }
  if (o.controlCharacters && !shape?.allow.has('control-character') && hasControlCharacters(value)) {
    finding(r, o, pointer, 'control-character');
    return value;
  }
  if (o.checks.size > 0 && r.findings.length < MAX_ERRORS) {
    const rule = detectInjection(value, shape ? checksAt(shape, o.checks) : plainChecks(o.checks));
    if (rule) finding(r, o, pointer, rule);
  }
  return value;
}

function finding(r: WalkResult, o: WalkOptions, pointer: string, rule: string): void {
  if (r.findings.length >= MAX_ERRORS) return;
  r.findings.push(o.parameter === undefined ? { in: o.location, pointer: safePointer(pointer), rule } : { in: o.location, parameter: o.parameter, ...(pointer ? { pointer: safePointer(pointer) } : {}), rule });
}
