import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bodyMedia, hasMethodOverride, isMethodOverrideKey, multipartOverride } from './method-override.ts';

test('keys: every spelling a framework decodes to _method, and nothing else', () => {
  for (const k of ['_method', '_METHOD', ' _method', '_method[]', '_method[x][y]', '.method', ' .method', '_method ']) assert.equal(isMethodOverrideKey(k), true, k);
  for (const k of ['method', 'my_method', '_methodology', '__method', 'x_method']) assert.equal(isMethodOverrideKey(k), false, k);
  assert.equal(hasMethodOverride(new URLSearchParams('a=1&%5Fm%65thod=DELETE').keys()), true);
});

test('media types are read as loosely as lenient frameworks read them', () => {
  assert.equal(bodyMedia('application/json; charset=utf-8').kind, 'json');
  assert.equal(bodyMedia('text/json').kind, 'json');
  assert.equal(bodyMedia('application/x-json').kind, 'json');
  assert.equal(bodyMedia('application/vnd.api+json').kind, 'json');
  assert.equal(bodyMedia('application/x-www-form-urlencoded, x').kind, 'form');
  assert.deepEqual(bodyMedia('multipart/form-data; boundary="a b"'), { kind: 'multipart', boundary: 'a b' });
  assert.equal(bodyMedia('text/plain').kind, 'other');
  assert.equal(bodyMedia(undefined).kind, 'other');
});

const part = (disposition: string, value = 'DELETE') => `--B\r\nContent-Disposition: ${disposition}\r\n\r\n${value}\r\n`;

test('multipart: a part named _method under any spelling, with CRLF or LF lines', () => {
  for (const d of ['form-data; name="_method"', 'form-data; name=_method', 'form-data; name=".method"', "form-data; name*=UTF-8''%5Fmethod", 'form-data; filename="a;b"; name="_method[]"']) {
    assert.equal(multipartOverride(Buffer.from(`${part('form-data; name="a"', 'x')}${part(d)}--B--\r\n`), 'B'), 'override', d);
  }
  assert.equal(multipartOverride(Buffer.from('--B\nContent-Disposition: form-data; name="_method"\n\nDELETE\n--B--\n'), 'B'), 'override');
  assert.equal(multipartOverride(Buffer.from(`${part('form-data; name="_methodology"')}${part('form-data; name="x"; filename="_method"')}--B--\r\n`), 'B'), undefined);
  // A part whose content mentions the header is content, not a header.
  assert.equal(multipartOverride(Buffer.from(`${part('form-data; name="note"', 'Content-Disposition: form-data; name="_method"')}--B--\r\n`), 'B'), undefined);
});

test('multipart: unreadable parts are refused, and hostile bodies cost linear time', () => {
  assert.equal(multipartOverride(Buffer.from('no boundary here'), undefined), 'malformed');
  assert.equal(multipartOverride(Buffer.from(`--B\r\nContent-Disposition: ${'x'.repeat(20_000)}`), 'B'), 'malformed');
  // Without line breaks: one long header that is refused after 16 KiB, not scanned quadratically.
  const hostile = Buffer.from(`--B\r\n${'content-disposition:'.repeat(60_000)}`);
  assert.equal(multipartOverride(hostile, 'B'), 'malformed');
  // Many small parts: scanned once each.
  const many = Buffer.from(`${part('form-data; name="a"', 'x').repeat(20_000)}--B--\r\n`);
  assert.equal(multipartOverride(many, 'B'), undefined);
});
