/**
 * `rampart login`: a token for the command line by the device authorization grant (RFC 8628):
 * ask for a user code, show where to enter it, poll the token endpoint at the interval the server
 * sets (slowing down when told, §3.5), print the access token.
 */
import { Agent, request } from 'undici';

export interface DeviceLoginOptions {
  readonly issuer: string;
  readonly clientId: string;
  readonly scope: string;
  /** PEM of a CA to trust besides the system's (the dev CA in development mode). */
  readonly ca?: string;
  /** Where the user is told what to do (stderr). */
  readonly tell: (text: string) => void;
  /** Overrides the polling wait (tests). */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal;
}

export interface DeviceLoginResult {
  readonly access_token: string;
  readonly token_type: string;
  readonly expires_in: number;
  readonly refresh_token?: string;
  readonly scope?: string;
}

export class DeviceLoginError extends Error {
  override readonly name = 'DeviceLoginError';
}

const MAX_BODY = 64 * 1024;

export async function deviceLogin(o: DeviceLoginOptions): Promise<DeviceLoginResult> {
  const dispatcher = new Agent({ connect: o.ca ? { ca: o.ca, rejectUnauthorized: true } : { rejectUnauthorized: true } });
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const call = async (url: string, form?: Record<string, string>): Promise<{ status: number; json: Record<string, unknown> }> => {
    if (!url.startsWith('https://')) throw new DeviceLoginError(`refusing a non-HTTPS endpoint: ${url}`);
    const res = await request(url, {
      method: form ? 'POST' : 'GET',
      dispatcher,
      headersTimeout: 10_000,
      bodyTimeout: 10_000,
      ...(o.signal ? { signal: o.signal } : {}),
      headers: form ? { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' } : { accept: 'application/json' },
      ...(form ? { body: new URLSearchParams(form).toString() } : {}),
    });
    const text = await res.body.text();
    if (text.length > MAX_BODY) throw new DeviceLoginError('answer too large');
    try {
      return { status: res.statusCode, json: JSON.parse(text) as Record<string, unknown> };
    } catch {
      throw new DeviceLoginError(`${url} answered ${res.statusCode} without JSON`);
    }
  };
  try {
    const discovery = await call(`${o.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`);
    // RFC 8414 §3.3: the issuer in the metadata must be the one asked for.
    if (discovery.status !== 200 || discovery.json.issuer !== o.issuer) throw new DeviceLoginError(`no authorization server with issuer ${o.issuer}`);
    const deviceEndpoint = String(discovery.json.device_authorization_endpoint ?? '');
    const tokenEndpoint = String(discovery.json.token_endpoint ?? '');
    const start = await call(deviceEndpoint, { client_id: o.clientId, scope: o.scope });
    if (start.status !== 200) throw new DeviceLoginError(`device authorization refused: ${String(start.json.error ?? start.status)} ${String(start.json.error_description ?? '')}`.trim());
    const { device_code: deviceCode, user_code: userCode, verification_uri: uri, verification_uri_complete: complete } = start.json as Record<string, string>;
    let interval = Math.max(1, Number(start.json.interval ?? 5));
    const deadline = Date.now() + Number(start.json.expires_in ?? 600) * 1000;
    o.tell(`\nTo sign in, open ${complete ?? uri}\nand check that it shows the code ${userCode}\n(or open ${uri} and enter it).\n\nWaiting for you to finish in the browser…\n`);
    while (Date.now() < deadline) {
      await sleep(interval * 1000);
      const t = await call(tokenEndpoint, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: deviceCode as string, client_id: o.clientId });
      if (t.status === 200) return t.json as unknown as DeviceLoginResult;
      const error = String(t.json.error ?? '');
      if (error === 'authorization_pending') continue;
      if (error === 'slow_down') {
        interval += 5; // RFC 8628 §3.5
        continue;
      }
      if (error === 'access_denied') throw new DeviceLoginError('the sign-in was cancelled in the browser');
      if (error === 'expired_token') throw new DeviceLoginError('the code expired before the sign-in finished: run rampart login again');
      throw new DeviceLoginError(`the token endpoint refused: ${error} ${String(t.json.error_description ?? '')}`.trim());
    }
    throw new DeviceLoginError('the code expired before the sign-in finished: run rampart login again');
  } finally {
    await dispatcher.close();
  }
}
