/**
 * What a stage gets when it compiles: the route it is compiled for and the gateway's services.
 */
import type { Logger } from 'pino';
import type { RouteConfig, UpstreamConfig, RootConfig } from '../config/types.ts';
import type { Keeper } from './keeper.ts';
import type { IdentityTokens } from './identity-port.ts';
import type { Store } from '../store/types.ts';
import type { AuthnServices } from './authn-port.ts';
import type { Keyring } from '../secrets/keyring.ts';

export interface CompileEnv {
  readonly root: RootConfig;
  /** Undefined for pre-route stages (request-id, hygiene), compiled per listener. */
  readonly route: RouteConfig | undefined;
  readonly upstream: UpstreamConfig | undefined;
  readonly logger: Logger;
  /** Objects that survive hot reload when their id survives (pools, breakers, counters). */
  readonly keeper: Keeper;
  readonly identity: IdentityTokens;
  readonly generation: number;
  readonly dataDir: string;
  /** Directory of the config file: relative paths in it (secret files) resolve from there. */
  readonly baseDir?: string;
  readonly dev: boolean;
  /** The gateway's store (users, clients, API keys, deny-list, OIDC artefacts); absent in `rampart check`. */
  readonly store?: Store;
  /** Subkeys of the master key (API-key pepper, TOTP secrets, …); absent in `rampart check`. */
  readonly keyring?: Keyring;
  /** What the authn stage verifies credentials with (built-in issuer, API-key verifier); absent: none. */
  readonly authn?: AuthnServices;
  /** Milliseconds since the epoch; tests pass a controlled clock (authz schedules). */
  readonly clock: () => number;
}
