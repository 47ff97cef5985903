import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyMedia, hasMethodOverride, isMethodOverrideKey, multipartOverride } from './method-override.ts';

test('keys: every spelling a framework decodes to _method, and nothing else', () => {
  for (const k of ['_method', '_METHOD', ' _method', '_method[]', '_method[x][y]', '.method', ' .method', '_method ', '_method\0x']) assert.equal(isMethodOverrideKey(k), true, JSON.stringify(k));
  for (const k of ['method', 'my_method', '_methodology', '__method', 'x_method']) assert.equal(isMethodOverrideKey(k), false, k);
  assert.equal(hasMethodOverride(new URLSearchParams('a=1&%5Fm%65thod=DELETE').keys()), true);
});

test('media types are read as the most lenient framework reads them', () => {
  assert.equal(bodyMedia('application/json; charset=utf-8').kind, 'json');
  assert.equal(bodyMedia('text/json').kind, 'json');
  assert.equal(bodyMedia('application/x-json').kind, 'json');
  assert.equal(bodyMedia('application/vnd.api+json').kind, 'json');
  assert.equal(bodyMedia('application/x-ndjson').kind, 'other', 'a stream of documents, not one object');
  assert.equal(bodyMedia('application/x-www-form-urlencoded, x').kind, 'form');
  assert.equal(bodyMedia('application/x-www-form-urlencoded x').kind, 'form');
  assert.equal(bodyMedia(undefined).kind, 'form', 'no type: Rack reads a form');
  assert.equal(bodyMedia('').kind, 'form');
  assert.deepEqual(bodyMedia('multipart/form-data; boundary="a b"'), { kind: 'multipart', boundary: 'a b' });
  assert.equal(bodyMedia('multipart/mixed; boundary=B').kind, 'multipart');
  assert.equal(bodyMedia('text/plain').kind, 'other');
  // Ambiguous boundaries are no boundary.
  for (const t of ['multipart/form-data; boundary=a; boundary=b', 'multipart/form-data; xboundary=A; boundary=B', 'multipart/form-data; boundary="a;b', 'multipart/form-data; boundary=a\u00e9']) {
    const m = bodyMedia(t);
    assert.ok(m.kind === 'multipart' && m.boundary === undefined, t);
  }
});

const part = (disposition: string, value = 'DELETE') => `--B\r\nContent-Disposition: ${disposition}\r\n\r\n${value}\r\n`;
const scan = (text: string) => multipartOverride(Buffer.from(text, 'latin1'), 'B');

test('multipart: a part named _method under any spelling', () => {
  for (const d of ['form-data; name="_method"', 'form-data; name=_method', 'form-data; name=".method"', "form-data; name*=UTF-8''%5Fmethod", 'form-data; filename="a;b"; name="_method[]"', 'form-data; name="_method\0x"']) {
    assert.equal(scan(`${part('form-data; name="a"', 'x')}${part(d)}--B--\r\n`), 'override', d);
  }
  assert.equal(scan(`${part('form-data; name="_methodology"')}${part('form-data; name="x"; filename="_method"')}--B--\r\n`), undefined);
  assert.equal(scan(`${part('form-data; name="note"', 'Content-Disposition: form-data; name="_method"')}--B--\r\n`), undefined, 'content that mentions a header is content');
  assert.equal(scan(`--B\r\n\r\nno headers\r\n--B--\r\n`), undefined);
});

test('multipart: anything parsers could read two ways is malformed', () => {
  const cases = {
    'LF lines': '--B\nContent-Disposition: form-data; name="a"\n\nx\n--B--\n',
    preamble: `hello\r\n${part('form-data; name="a"', 'x')}--B--\r\n`,
    'boundary inside content': `${part('form-data; name="a"', 'x--B--')}${part('form-data; name="b"')}--B--\r\n`,
    'LF delimiter (PHP)': `${part('form-data; name="a"', 'x\n--B\r\nContent-Disposition: form-data; name="_method"\r\n\r\nDELETE')}--B--\r\n`,
    'folded header': '--B\r\nContent-Disposition: form-data;\r\n name="_method"\r\n\r\nx\r\n--B--\r\n',
    'Content-ID (Rack)': '--B\r\nContent-ID: _method\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--B--\r\n',
    'unknown header': '--B\r\nX-Content-Disposition: form-data; name="_method"\r\nContent-Disposition: form-data; name="a"\r\n\r\nx\r\n--B--\r\n',
    'two dispositions': '--B\r\nContent-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="b"\r\n\r\nx\r\n--B--\r\n',
    'not form-data': '--B\r\nContent-Disposition: attachment; name="a"\r\n\r\nx\r\n--B--\r\n',
    'no closing delimiter': part('form-data; name="a"', 'x'),
    'undecodable name*': `${part("form-data; name*=ISO-8859-1''%E9")}--B--\r\n`,
  };
  for (const [label, body] of Object.entries(cases)) assert.equal(scan(body), 'malformed', label);
  assert.equal(multipartOverride(Buffer.from('x'), undefined), 'malformed');
  assert.equal(multipartOverride(Buffer.alloc(0), undefined), undefined);
});

test('multipart: hostile bodies cost linear time', () => {
  // One endless header line: refused once it passes 16 KiB, before it is decoded.
  assert.equal(scan(`--B\r\n${'content-disposition:'.repeat(60_000)}`), 'malformed');
  assert.equal(scan(`--B\r\nContent-Disposition: ${'x'.repeat(20_000)}\r\n\r\nx\r\n--B--\r\n`), 'malformed');
  // Many small parts: each scanned once; past 10,000 the body is not a form.
  assert.equal(scan(`${part('form-data; name="a"', 'x').repeat(5_000)}--B--\r\n`), undefined);
  assert.equal(scan(`${part('form-data; name="a"', 'x').repeat(10_001)}--B--\r\n`), 'malformed');
});
