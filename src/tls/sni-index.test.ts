import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildSniIndex, checkServerNamePattern, lookupServerName } from './sni-index.ts';

describe('sni-index', () => {
  const index = buildSniIndex([
    { names: ['default.example.com', 'api.example.com'], value: 'default', explicit: false },
    { names: ['api.example.com'], value: 'api', explicit: true },
    { names: ['*.example.org', 'www.example.org'], value: 'wild', explicit: false },
    { names: ['www.example.org'], value: 'www', explicit: false },
  ]);

  test('lookupServerName: explicit beats derived, first derived wins, exact beats wildcard', () => {
    assert.equal(lookupServerName(index, 'api.example.com'), 'api');
    assert.equal(lookupServerName(index, 'default.example.com'), 'default');
    assert.equal(lookupServerName(index, 'www.example.org'), 'wild');
    assert.equal(lookupServerName(index, 'shop.example.org'), 'wild');
  });

  test('lookupServerName: case-insensitive, trailing dot, one label per wildcard', () => {
    assert.equal(lookupServerName(index, 'API.EXAMPLE.COM.'), 'api');
    assert.equal(lookupServerName(index, 'a.b.example.org'), undefined);
    assert.equal(lookupServerName(index, 'example.org'), undefined);
    assert.equal(lookupServerName(index, '.example.org'), undefined);
  });

  test('checkServerNamePattern refuses what is not a host name or a leading-label wildcard', () => {
    assert.equal(checkServerNamePattern('*.Example.com'), '*.example.com');
    for (const bad of ['', '*', 'a.*.example.com', 'api*.example.com', 'a..b', 'exa mple.com']) {
      assert.throws(() => checkServerNamePattern(bad), /is not a server name/, bad);
    }
  });
});
