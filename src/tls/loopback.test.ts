import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { assertDevCertificatesAllowed, isLoopbackHost } from './loopback.ts';

describe('isLoopbackHost', () => {
  test('isLoopbackHost accepts localhost, *.localhost, 127.0.0.0/8 and ::1 only', () => {
    for (const host of ['localhost', 'LOCALHOST', 'localhost.', 'app.localhost', '127.0.0.1', '127.255.0.9', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      assert.equal(isLoopbackHost(host), true, host);
    }
    for (const host of ['0.0.0.0', '::', '', '10.0.0.1', '128.0.0.1', 'example.com', 'localhost.example.com', '::2', '::ffff:10.0.0.1', 'a..localhost', '1.127.0.0']) {
      assert.equal(isLoopbackHost(host), false, host);
    }
  });

  test('assertDevCertificatesAllowed refuses a non-loopback bind and names the listener', () => {
    assert.doesNotThrow(() => assertDevCertificatesAllowed('public', '127.0.0.1'));
    assert.throws(() => assertDevCertificatesAllowed('public', '0.0.0.0'), /^Error: listener "public": the development CA \(tls\.dev: true\) only serves loopback addresses, but the listener binds "0\.0\.0\.0"/);
  });
});
