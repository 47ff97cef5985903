/**
 * A token in a browser, the way a web or native app gets one: authorization code + PKCE (RFC 7636,
 * S256) with a loopback redirect (RFC 8252 §7.3). Prints the address to open, receives the code on
 * http://127.0.0.1:8400/callback, redeems it and prints the access token.
 *
 *   node examples/demo/browser-login.ts            (with `npm start` running)
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Agent, request } from 'undici';

const ISSUER = 'https://localhost:8443/auth';
const CLIENT = 'demo-browser';
const REDIRECT = 'http://127.0.0.1:8400/callback';
const ca = await readFile(path.resolve(process.env.RAMPART_DATA_DIR ?? '.rampart', 'tls', 'ca.crt'), 'utf8');
const dispatcher = new Agent({ connect: { ca } });

const verifier = randomBytes(32).toString('base64url');
const challenge = createHash('sha256').update(verifier).digest('base64url');
const state = randomBytes(16).toString('base64url');
const url = `${ISSUER}/authorize?${new URLSearchParams({
  client_id: CLIENT, response_type: 'code', redirect_uri: REDIRECT, scope: 'openid offline_access orders:read orders:write users:read',
  code_challenge: challenge, code_challenge_method: 'S256', state, prompt: 'consent', resource: 'https://localhost:8443/api',
})}`;

const code = await new Promise<string>((resolve, reject) => {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', REDIRECT);
    if (u.pathname !== '/callback') return void res.writeHead(404).end();
    const ok = u.searchParams.get('state') === state && u.searchParams.get('code');
    res.writeHead(ok ? 200 : 400, { 'content-type': 'text/plain' }).end(ok ? 'Signed in: you can close this window.\n' : 'Sign-in failed.\n');
    server.close();
    if (ok) resolve(u.searchParams.get('code') as string);
    else reject(new Error(u.searchParams.get('error_description') ?? 'sign-in failed'));
  });
  server.listen(8400, '127.0.0.1', () => process.stderr.write(`Open this address in a browser (the dev CA must be trusted, or accept the warning):\n\n  ${url}\n\n`));
});
const res = await request(`${ISSUER}/token`, {
  method: 'POST', dispatcher,
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT, client_id: CLIENT, code_verifier: verifier }).toString(),
});
const tokens = (await res.body.json()) as { access_token?: string; error?: string };
if (!tokens.access_token) throw new Error(`token request refused: ${tokens.error}`);
process.stdout.write(`${tokens.access_token}\n`);
await dispatcher.close();
