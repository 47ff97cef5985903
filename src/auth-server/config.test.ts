import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkAuthServer, type AuthServerConfig } from './config.ts';

const base: AuthServerConfig = {
  issuer: 'https://login.example.com',
  accessTokenTtlSeconds: 300,
  refreshToken: { idleTtlSeconds: 86400, absoluteTtlSeconds: 1209600 },
  sessionTtlSeconds: 3600,
  interactionTtlSeconds: 600,
  deviceCodeTtlSeconds: 600,
  resources: [{ indicator: 'https://api.example.com', scopes: ['a'] }],
  clients: [],
  login: { maxFailures: 5, windowSeconds: 900, baseDelaySeconds: 30, maxDelaySeconds: 900 },
  keyPollSeconds: 30,
};

test('checkAuthServer S1: outside dev mode the login origin must not be an API origin', () => {
  assert.deepEqual(checkAuthServer(base, ['api.example.com'], false), []);
  assert.match(checkAuthServer(base, ['login.example.com'], false)[0]?.message ?? '', /origin of its own/);
  assert.match(checkAuthServer(base, [undefined], false)[0]?.message ?? '', /origin of its own/, 'a route without host answers every host');
  assert.match(checkAuthServer(base, ['*.example.com'], false)[0]?.message ?? '', /origin of its own/);
});

test('checkAuthServer S1: in dev mode sharing the API origin is a warning', () => {
  const issues = checkAuthServer({ ...base, issuer: 'https://localhost:8443/auth' }, [undefined], true);
  assert.equal(issues.length, 1);
  assert.equal(issues[0]?.severity, 'warning');
});

test('checkAuthServer: defaultResource must be a resource; lifetimes and delays ordered; client ids unique', () => {
  const bad: AuthServerConfig = {
    ...base,
    defaultResource: 'https://other.example.com',
    refreshToken: { idleTtlSeconds: 10_000, absoluteTtlSeconds: 5_000 },
    login: { ...base.login, baseDelaySeconds: 100, maxDelaySeconds: 10 },
    clients: [
      { clientId: 'a', redirectUris: [], postLogoutRedirectUris: [], grantTypes: ['authorization_code'], scopes: [] },
      { clientId: 'a', redirectUris: ['https://x.example/cb'], postLogoutRedirectUris: [], grantTypes: ['authorization_code'], scopes: [] },
    ],
  };
  const paths = checkAuthServer(bad, ['api.example.com'], false).map((i) => i.path.join('.'));
  assert.deepEqual(paths.sort(), ['authServer.clients.0.redirectUris', 'authServer.clients.1.clientId', 'authServer.defaultResource', 'authServer.login.baseDelaySeconds', 'authServer.refreshToken.idleTtlSeconds'].sort());
});
