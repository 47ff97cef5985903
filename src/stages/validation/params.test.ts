import { test } from 'node:test';
import assert from 'node:assert/strict';
import { coerce, parseCookies, parseQuery, readParameter, type RequestParameters } from './params.ts';
import type { CompiledParameter, Primitive, ValueType } from './openapi/compile.ts';

const prim = (...t: Primitive[]): ValueType => ({ kind: 'primitive', primitives: new Set(t), properties: new Map() });
const arr = (...t: Primitive[]): ValueType => ({ kind: 'array', primitives: new Set(t), properties: new Map() });
const obj = (props: Record<string, Primitive>): ValueType => ({ kind: 'object', primitives: new Set(), properties: new Map(Object.entries(props).map(([k, v]) => [k, new Set([v])])) });

function param(p: Partial<CompiledParameter> & Pick<CompiledParameter, 'name' | 'in' | 'type'>): CompiledParameter {
  const style = p.style ?? { path: 'simple', query: 'form', header: 'simple', cookie: 'form' }[p.in];
  return { required: false, allowEmptyValue: false, json: false, explode: style === 'form', validate: (() => true) as never, shape: undefined as never, style, ...p } as CompiledParameter;
}

function read(p: CompiledParameter, req: Partial<RequestParameters>, used = new Set<string>()) {
  return readParameter(p, { path: {}, query: new Map(), headers: {}, cookies: new Map(), ...req }, used);
}
const q = (s: string) => ({ query: parseQuery(s)! });

test('parseQuery: RFC 3986 decoding, + as space, repeated names kept in order, bad encoding refused', () => {
  assert.deepEqual([...parseQuery('a=1&b=x+y&a=2&c&d=%C3%A9')!], [['a', ['1', '2']], ['b', ['x y']], ['c', ['']], ['d', ['é']]]);
  assert.equal(parseQuery('a=%E0%A4%A'), undefined);
  assert.equal(parseQuery('%zz=1'), undefined);
});

test('parseCookies: RFC 6265 pairs, quoted values, the first of a repeated name wins', () => {
  assert.deepEqual([...parseCookies('a=1; b="two"; a=3;c=x=y')], [['a', '1'], ['b', 'two'], ['c', 'x=y']]);
});

test('coerce: numbers, integers and booleans from strings; anything else stays a string for the schema to judge', () => {
  assert.equal(coerce('12', new Set(['integer'])), 12);
  assert.equal(coerce('-1.5e2', new Set(['number'])), -150);
  assert.equal(coerce('0x10', new Set(['integer'])), '0x10');
  assert.equal(coerce(' 1', new Set(['integer'])), ' 1');
  assert.equal(coerce('true', new Set(['boolean'])), true);
  assert.equal(coerce('1', new Set(['string'])), '1');
  assert.equal(coerce('1', new Set(['string', 'integer'])), 1);
});

test('query form: explode (repeated names) and not (comma-separated), primitives and objects', () => {
  assert.deepEqual(read(param({ name: 'tag', in: 'query', type: arr('string') }), q('tag=a&tag=b')), { present: true, value: ['a', 'b'] });
  assert.deepEqual(read(param({ name: 'ids', in: 'query', explode: false, type: arr('integer') }), q('ids=1,2,3')), { present: true, value: [1, 2, 3] });
  assert.deepEqual(read(param({ name: 'n', in: 'query', type: prim('integer') }), q('n=7')), { present: true, value: 7 });
  assert.deepEqual(read(param({ name: 'n', in: 'query', type: prim('integer') }), q('n=1&n=2')), { error: 'multipleValues' });
  assert.deepEqual(read(param({ name: 'n', in: 'query', type: prim('integer') }), q('m=1')), { present: false });
  const used = new Set<string>();
  assert.deepEqual(read(param({ name: 'f', in: 'query', type: obj({ role: 'string', max: 'integer' }) }), q('role=admin&max=5&x=1'), used), { present: true, value: { role: 'admin', max: 5 } });
  assert.deepEqual([...used].sort(), ['max', 'role'], 'exploded object properties are the names it consumes');
  assert.deepEqual(read(param({ name: 'f', in: 'query', explode: false, type: obj({ role: 'string', max: 'integer' }) }), q('f=role,admin,max,5')), { present: true, value: { role: 'admin', max: 5 } });
  assert.deepEqual(read(param({ name: 'f', in: 'query', explode: false, type: obj({}) }), q('f=a,1,b')), { error: 'style' });
});

test('query spaceDelimited, pipeDelimited and deepObject', () => {
  assert.deepEqual(read(param({ name: 'c', in: 'query', style: 'spaceDelimited', explode: false, type: arr('number') }), q('c=1.5%202')), { present: true, value: [1.5, 2] });
  assert.deepEqual(read(param({ name: 'c', in: 'query', style: 'pipeDelimited', explode: false, type: arr('string') }), q('c=a|b|c')), { present: true, value: ['a', 'b', 'c'] });
  const d = param({ name: 'filter', in: 'query', style: 'deepObject', explode: true, type: obj({ size: 'integer', color: 'string' }) });
  assert.deepEqual(read(d, q('filter[size]=3&filter[color]=red')), { present: true, value: { size: 3, color: 'red' } });
  assert.deepEqual(read(d, q('filter[a][b]=1')), { error: 'style' });
  assert.deepEqual(read(d, q('filter[__proto__]=1')), { error: 'style' });
  assert.deepEqual(read(d, q('filter[$ne]=1')), { present: true, value: { $ne: '1' } }, 'operator keys are found by sanitization, not here');
});

test('query with JSON content', () => {
  const p = param({ name: 'w', in: 'query', json: true, type: obj({}) });
  assert.deepEqual(read(p, q('w=%7B%22a%22%3A1%7D')), { present: true, value: { a: 1 } });
  assert.deepEqual(read(p, q('w=%7B%22a%22%3A1%2C%22a%22%3A2%7D')), { error: 'json' }, 'the strict parser: duplicate keys refused');
});

test('path simple and label (explode and not)', () => {
  assert.deepEqual(read(param({ name: 'id', in: 'path', type: prim('integer') }), { path: { id: '42' } }), { present: true, value: 42 });
  assert.deepEqual(read(param({ name: 'ids', in: 'path', type: arr('string') }), { path: { ids: 'a,b' } }), { present: true, value: ['a', 'b'] });
  assert.deepEqual(read(param({ name: 'o', in: 'path', explode: true, type: obj({ a: 'integer' }) }), { path: { o: 'a=1,b=x' } }), { present: true, value: { a: 1, b: 'x' } });
  assert.deepEqual(read(param({ name: 'l', in: 'path', style: 'label', type: arr('string') }), { path: { l: '.a,b' } }), { present: true, value: ['a', 'b'] });
  assert.deepEqual(read(param({ name: 'l', in: 'path', style: 'label', explode: true, type: arr('string') }), { path: { l: '.a.b' } }), { present: true, value: ['a', 'b'] });
  assert.deepEqual(read(param({ name: 'l', in: 'path', style: 'label', type: arr('string') }), { path: { l: 'a,b' } }), { error: 'style' });
});

test('header simple (arrays, objects) and cookie form', () => {
  assert.deepEqual(read(param({ name: 'x-n', in: 'header', type: prim('integer') }), { headers: { 'x-n': '3' } }), { present: true, value: 3 });
  assert.deepEqual(read(param({ name: 'x-t', in: 'header', type: arr('string') }), { headers: { 'x-t': 'a,b' } }), { present: true, value: ['a', 'b'] });
  assert.deepEqual(read(param({ name: 'x-o', in: 'header', explode: true, type: obj({ n: 'integer' }) }), { headers: { 'x-o': 'n=1,m=x' } }), { present: true, value: { n: 1, m: 'x' } });
  assert.deepEqual(read(param({ name: 'lang', in: 'cookie', type: prim('string') }), { cookies: new Map([['lang', 'fr']]) }), { present: true, value: 'fr' });
  assert.deepEqual(read(param({ name: 'ids', in: 'cookie', explode: false, type: arr('integer') }), { cookies: new Map([['ids', '1,2']]) }), { present: true, value: [1, 2] });
  assert.deepEqual(read(param({ name: 'c', in: 'cookie', type: prim('string') }), { cookies: new Map([['c', '%zz']]) }), { error: 'encoding' });
});
