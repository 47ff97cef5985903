/**
 * Issuer ids an authorization rule may name: `builtin` (the built-in server), the ids of
 * `authentication.issuers`, and `api-keys` for the gateway's own API keys.
 */
import { API_KEY_ISSUER } from '../authn/authenticate.ts';

export const API_KEY_ISSUER_ID = 'api-keys';
export const API_KEY_ISSUER_URL = API_KEY_ISSUER;
