/**
 * Violations as the client sees them: RFC 9457 problem details with an `errors` extension member
 * (RFC 9457 §3.2), each `{ pointer, rule }` for the body or `{ in, parameter, pointer?, rule }` for
 * a parameter — where and which rule, never the offending value (no reflected XSS through errors).
 * At most MAX_ERRORS are listed (S10).
 */
import type { ErrorObject } from 'ajv';
import { pointerSegment } from '../../core/body/json.ts';
import { safePointer } from '../../core/exchange.ts';
import { FORBIDDEN_KEYWORD } from './openapi/schemas.ts';

export const MAX_ERRORS = 20;

export interface Violation {
  readonly in?: 'path' | 'query' | 'header' | 'cookie' | 'body';
  readonly parameter?: string;
  readonly pointer?: string;
  readonly rule: string;
}

/** Ajv errors → violations: the property a rule is about is part of the pointer. */
export function fromAjv(errors: readonly ErrorObject[] | null | undefined, base: Partial<Violation> = {}, prefix = '', forbidden: 'readOnly' | 'writeOnly' = 'readOnly'): Violation[] {
  const out: Violation[] = [];
  const seen = new Set<string>();
  for (const e of errors ?? []) {
    const p = e.params as Record<string, unknown>;
    let pointer = prefix + e.instancePath;
    let rule: string = e.keyword;
    switch (e.keyword) {
      case 'required':
        pointer += `/${pointerSegment(String(p.missingProperty))}`;
        break;
      case 'dependentRequired':
        pointer += `/${pointerSegment(String(p.missingProperty))}`;
        rule = 'required';
        break;
      case 'additionalProperties':
        pointer += `/${pointerSegment(String(p.additionalProperty))}`;
        rule = 'unknownProperty';
        break;
      case 'unevaluatedProperties':
        pointer += `/${pointerSegment(String(p.unevaluatedProperty))}`;
        rule = 'unknownProperty';
        break;
      case FORBIDDEN_KEYWORD:
        rule = forbidden;
        break;
      case 'if':
        continue; // the failing `then`/`else` keyword is reported itself
      default:
        break;
    }
    const v: Violation = { ...base, pointer: safePointer(pointer), rule };
    const key = `${v.in ?? ''}|${v.parameter ?? ''}|${v.pointer}|${rule}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(v);
    if (out.length >= MAX_ERRORS) break;
  }
  return out;
}

export function capped(list: Violation[]): Violation[] {
  return list.length > MAX_ERRORS ? list.slice(0, MAX_ERRORS) : list;
}
