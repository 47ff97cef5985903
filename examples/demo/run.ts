/**
 * `npm start`: the demo. Starts the two sample services on loopback, then the gateway with
 * examples/demo/rampart.yaml (HTTPS on https://localhost:8443 with a generated local CA), and
 * prints where everything is. Ctrl-C stops it all gracefully.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDevCertificates } from '../../src/tls/dev-ca.ts';
import { createIdentityVerifier } from '../../src/identity/verify.ts';
import { IDENTITY_JWKS_PATH } from '../../src/identity/claims.ts';
import { startGateway, runUntilSignalled } from '../../src/cli/start.ts';
import { start as startUsers } from './services/users.ts';
import { start as startOrders } from './services/orders.ts';
import { seedDemoUsers } from './seed.ts';
import { loadMasterKey } from '../../src/secrets/master-key.ts';
import { createKeyring } from '../../src/secrets/keyring.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
const configFile = process.env.RAMPART_CONFIG ?? path.join(here, 'rampart.yaml');
const dataDir = path.resolve(process.env.RAMPART_DATA_DIR ?? '.rampart');
process.env.RAMPART_DATA_DIR = dataDir;

const ORIGIN = 'https://localhost:8443';
const SERVICES = [
  { name: 'users', port: 9101, start: startUsers },
  { name: 'orders', port: 9102, start: startOrders },
] as const;

async function main(): Promise<number> {
  // The CA first, so that the services can trust the gateway's JWKS endpoint.
  const dev = await ensureDevCertificates(dataDir);
  const ca = await readFile(dev.caCertPath);
  const running: Array<{ service: { close(): Promise<void> }; verifier: { close(): void } }> = [];
  for (const s of SERVICES) {
    const verifier = createIdentityVerifier({ jwksUrl: `${ORIGIN}${IDENTITY_JWKS_PATH}`, issuer: 'urn:rampart:gateway', audience: s.name, ca });
    running.push({ service: await s.start({ port: s.port, host: '127.0.0.1', verifier }), verifier });
  }
  const stopServices = async () => {
    for (const r of running) {
      await r.service.close();
      r.verifier.close();
    }
  };
  const gw = await startGateway(configFile);
  if (!gw) {
    await stopServices();
    return 1;
  }
  const rel = path.relative(process.cwd(), dev.caCertPath) || dev.caCertPath;
  // Demo accounts (first start only): one-time passwords printed once, changed at first login.
  const issuer = gw.authServer?.issuer ?? `${ORIGIN}/auth`;
  const keyring = createKeyring(await loadMasterKey({ dataDir, dev: true, value: undefined }));
  const seeded = await seedDemoUsers(gw.store, keyring, issuer);
  const accounts = seeded.map((u) => (u.oneTimePassword ? `    ${u.username.padEnd(6)} one-time password ${u.oneTimePassword}` : `    ${u.username.padEnd(6)} (exists: rampart users reset-password ${u.username} --config examples/demo/rampart.yaml)`));
  process.stderr.write(
    [
      '',
      '  Rampart demo is running.',
      '',
      `    HTTPS gateway     ${ORIGIN}            (HTTP/2 and HTTP/1.1)`,
      '    HTTP redirect     http://localhost:8080             (308 to HTTPS)',
      `    users service     http://127.0.0.1:${SERVICES[0].port}  orders service http://127.0.0.1:${SERVICES[1].port} (only through the gateway)`,
      `    local CA          ${rel}`,
      '',
      '  Try:',
      `    curl --cacert ${rel} ${ORIGIN}/api/health`,
      `    curl --cacert ${rel} -i ${ORIGIN}/api/orders`,
      `    curl --cacert ${rel} ${ORIGIN}/.well-known/rampart/identity-jwks.json`,
      '',
      `  Authorization server ${issuer} (password, then an authenticator app: enrol at first login)`,
      ...accounts,
      '',
      '  A token on the command line (device flow), then call the API:',
      '    TOKEN=$(npx rampart login --config examples/demo/rampart.yaml)',
      `    curl --cacert ${rel} -H "Authorization: Bearer $TOKEN" ${ORIGIN}/api/orders`,
      '  In a browser (authorization code + PKCE): npx node examples/demo/browser-login.ts',
      '',
      '  Ctrl-C stops the gateway (requests in flight finish) and the services.',
      '',
    ].join('\n') + '\n',
  );
  return runUntilSignalled(gw, stopServices);
}

process.exitCode = await main().catch((err: unknown) => {
  const e = err as NodeJS.ErrnoException & { port?: number };
  // A clear line, never a stack trace: the usual cause is a demo already running.
  if (e.code === 'EADDRINUSE') process.stderr.write(`rampart demo: port ${e.port ?? ''} is already in use (is another demo running?)\n`);
  else process.stderr.write(`rampart demo: cannot start: ${e.message}\n`);
  return 1;
});
