/**
 * Values of a `rampart policy` question as written on the command line or in a test table, checked
 * the same way for both: each returns the value, or a string saying what is wrong.
 */
import { isIP } from 'node:net';
import { parseJson } from '../../core/body/json.ts';

/** RFC 3339 date-time with an explicit offset (a time without one would depend on this machine). */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})$/i;

export function parseAt(text: string): number | string {
  const ms = DATE_TIME.test(text) ? Date.parse(text) : Number.NaN;
  return Number.isFinite(ms) ? ms : `"${text.slice(0, 40)}" is not a date-time with an offset, like 2026-11-30T10:00:00+01:00`;
}

export function parseIp(text: string): string | { error: string } {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return isIP(bare) ? bare : { error: `"${text.slice(0, 60)}" is not an IP address` };
}

export function parseAuthAge(text: string): number | string {
  return /^\d{1,9}$/.test(text) ? Number(text) : `"${text.slice(0, 20)}" is not a number of seconds`;
}

/** A JSON body parsed as the gateway parses it (duplicate keys and __proto__ refused). */
export function parseBody(text: string): { value: unknown } | string {
  try {
    return { value: parseJson(text) };
  } catch (err) {
    return `not JSON the gateway would accept: ${(err as Error).message}`;
  }
}

const METHOD = /^[A-Za-z]{1,16}$/;
export function parseMethod(text: string): string | { error: string } {
  return METHOD.test(text) ? text : { error: `"${text.slice(0, 20)}" is not an HTTP method` };
}

/** Comma-separated list → distinct, trimmed, non-empty values. */
export function list(text: string): string[] {
  return [...new Set(text.split(',').map((s) => s.trim()).filter(Boolean))];
}
