import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseJson, JsonParseError, DEFAULT_JSON_LIMITS, type JsonLimits, type JsonRule } from './json.ts';

const limits = (o: Partial<JsonLimits> = {}): JsonLimits => ({ ...DEFAULT_JSON_LIMITS, ...o });

function refused(input: string | Buffer, rule: JsonRule, pointer?: string, l: JsonLimits = DEFAULT_JSON_LIMITS): void {
  assert.throws(
    () => parseJson(input, l),
    (e: unknown) => {
      assert.ok(e instanceof JsonParseError, String(e));
      assert.equal(e.rule, rule, `rule for ${String(input).slice(0, 60)}`);
      if (pointer !== undefined) assert.equal(e.pointer, pointer);
      return true;
    },
  );
}

test('parseJson agrees with JSON.parse on valid documents', () => {
  const docs = [
    '{}', '[]', '0', '-0', '1.5e3', '-12.25E-2', 'true', 'false', 'null', '"x"', ' \t\r\n{"a" : [1, 2 ,{"b":null}] } ',
    '{"name":"O\'Brien","price":12.99,"text":"line\\nbreak \\"quoted\\" \\\\ \\/ \\u00e9 \\ud83d\\ude00"}',
    JSON.stringify({ deep: { er: [{ x: 'é' }, [], {}] }, n: 123456789012, f: 0.1 }),
  ];
  for (const d of docs) assert.deepEqual(parseJson(d), JSON.parse(d), d);
  assert.deepEqual(parseJson(Buffer.from('{"ü":"日本語"}')), { ü: '日本語' });
});

test('parseJson refuses malformed JSON (RFC 8259)', () => {
  for (const bad of ['', ' ', '{', '{"a"}', '{"a":1,}', '[1,]', '[1 2]', "{'a':1}", '{a:1}', '01', '1.', '.5', '+1', '1e', '-', 'NaN', 'Infinity', 'tru', 'nulls', '"unterminated', '"tab\there"', '"\\x41"', '"\\u12G4"', '{"a":1}x', '[1]]', '\u00a0{}']) {
    refused(bad, 'syntax');
  }
});

test('parseJson refuses duplicate member names, also when escaped differently (RFC 7493 §2.3)', () => {
  refused('{"a":1,"a":2}', 'duplicate-key', '/a');
  refused('{"a":1,"\\u0061":2}', 'duplicate-key', '/a');
  refused('{"x":{"role":"user","role":"admin"}}', 'duplicate-key', '/x/role');
});

test('parseJson refuses __proto__ and constructor.prototype members', () => {
  refused('{"__proto__":{"isAdmin":true}}', 'prototype-key', '/__proto__');
  refused('{"a":[{"__pro\\u0074o__":{}}]}', 'prototype-key', '/a/0/__proto__');
  refused('{"constructor":{"prototype":{"isAdmin":true}}}', 'prototype-key', '/constructor/prototype');
  assert.deepEqual(parseJson('{"constructor":"ok","prototype":1}'), { constructor: 'ok', prototype: 1 });
  assert.equal(({} as Record<string, unknown>).isAdmin, undefined);
});

test('parseJson checks nesting depth while parsing, before reading further', () => {
  const l = limits({ maxDepth: 3 });
  assert.deepEqual(parseJson('[[[1]]]', l), [[[1]]]);
  refused('[[[[1]]]]', 'depth', '/0/0/0', l);
  refused('{"a":{"b":{"c":{}}}}', 'depth', '/a/b/c', l);
  // A million brackets, unterminated: refused at depth 4 without a stack overflow.
  refused('['.repeat(1_000_000), 'depth', undefined, l);
  refused('['.repeat(100_000), 'depth', undefined, limits({ maxDepth: 100_000 }));
});

test('parseJson bounds array length, string length and member count', () => {
  refused('[1,2,3,4]', 'array-length', '/3', limits({ maxArrayLength: 3 }));
  refused('{"a":"12345"}', 'string-length', '/a', limits({ maxStringLength: 4 }));
  refused('{"a":"1\\n345"}', 'string-length', '/a', limits({ maxStringLength: 4 }));
  assert.equal(parseJson('"\\n\\n\\n\\n"', limits({ maxStringLength: 4 })), '\n\n\n\n');
  refused('{"abcde":1}', 'string-length', '', limits({ maxStringLength: 4 }));
  refused('{"a":1,"b":2,"c":3}', 'property-count', '/c', limits({ maxProperties: 2 }));
});

test('parseJson refuses what is not UTF-8 or carries a byte order mark (RFC 8259 §8.1)', () => {
  refused(Buffer.from([0x22, 0xc3, 0x28, 0x22]), 'encoding');
  refused(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), 'encoding');
  refused(Buffer.from('"\u00e9"', 'latin1'), 'encoding');
});

test('parseJson refuses unpaired surrogate escapes and overflowing numbers (RFC 7493 §2.1, §2.2)', () => {
  refused('"\\ud800"', 'unicode');
  refused('"\\udc00x"', 'unicode');
  refused('"\\ud800\\u0041"', 'unicode');
  refused('1e400', 'number');
  refused('[-1e999]', 'number', '/0');
  refused('1' + '0'.repeat(500), 'number');
});
