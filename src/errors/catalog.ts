/**
 * The one catalog of Rampart's error codes (RAMPART_<AREA>_<WHAT>).
 *
 * Every gateway error answered to a client comes from here, as RFC 9457 problem+json.
 * docs/errors.md documents every code; src/errors/catalog.test.ts fails when the two drift.
 * `title` and `description` are public text: they never carry request data, stack traces or
 * upstream internals. A `Record<ErrorCode, …>` makes a code without a status a type error.
 */
export interface ErrorSpec {
  readonly status: number;
  readonly title: string;
}

export const CATALOG = {
  // Routing
  RAMPART_ROUTE_NOT_FOUND: { status: 404, title: 'No route matches this request' },
  RAMPART_ROUTE_METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed on this route' },
  // Request hygiene (byte limits, path normalisation, header rules)
  RAMPART_HYGIENE_BAD_REQUEST: { status: 400, title: 'Malformed request' },
  RAMPART_HYGIENE_PATH_INVALID: { status: 400, title: 'Ambiguous or invalid request path' },
  RAMPART_HYGIENE_HOST_INVALID: { status: 400, title: 'Missing, invalid or conflicting Host' },
  RAMPART_HYGIENE_HOST_NOT_ALLOWED: { status: 421, title: 'This listener does not serve that host' },
  RAMPART_HYGIENE_URI_TOO_LONG: { status: 414, title: 'Request URI too long' },
  RAMPART_HYGIENE_HEADERS_TOO_LARGE: { status: 431, title: 'Request header fields too large' },
  RAMPART_HYGIENE_TOO_MANY_HEADERS: { status: 431, title: 'Too many request header fields' },
  RAMPART_HYGIENE_BODY_TOO_LARGE: { status: 413, title: 'Request body too large' },
  RAMPART_HYGIENE_LENGTH_REQUIRED: { status: 411, title: 'Length or chunked encoding required' },
  RAMPART_HYGIENE_EXPECTATION_FAILED: { status: 417, title: 'Expectation not supported' },
  RAMPART_HYGIENE_METHOD_NOT_SUPPORTED: { status: 501, title: 'Method not supported by the gateway' },
  RAMPART_HYGIENE_UPGRADE_REFUSED: { status: 400, title: 'Protocol upgrade not allowed on this route' },
  RAMPART_HYGIENE_REQUEST_TIMEOUT: { status: 408, title: 'Request not received in time' },
  RAMPART_HYGIENE_METHOD_OVERRIDE: { status: 400, title: 'Method overrides are not accepted' },
  // Network policy
  RAMPART_IPFILTER_DENIED: { status: 403, title: 'Client address not allowed' },
  RAMPART_TLS_CLIENT_CERT_REQUIRED: { status: 403, title: 'A verified client certificate is required' },
  RAMPART_CORS_ORIGIN_DENIED: { status: 403, title: 'Origin not allowed' },
  // Authentication (RFC 6750 Bearer tokens, API keys; WWW-Authenticate on every 401)
  RAMPART_AUTHN_REQUIRED: { status: 401, title: 'Authentication required' },
  RAMPART_AUTHN_BAD_REQUEST: { status: 400, title: 'Malformed or ambiguous credentials' },
  RAMPART_AUTHN_TOKEN_IN_QUERY: { status: 400, title: 'Access tokens are accepted in the Authorization header only' },
  RAMPART_AUTHN_TOKEN_INVALID: { status: 401, title: 'Invalid access token' },
  RAMPART_AUTHN_TOKEN_EXPIRED: { status: 401, title: 'Access token expired' },
  RAMPART_AUTHN_TOKEN_REVOKED: { status: 401, title: 'Access token revoked' },
  RAMPART_AUTHN_API_KEY_INVALID: { status: 401, title: 'Invalid API key' },
  RAMPART_AUTHN_INSUFFICIENT_SCOPE: { status: 403, title: 'Insufficient scope' },
  RAMPART_AUTHN_STEP_UP_REQUIRED: { status: 401, title: 'Stronger or more recent authentication required' },
  RAMPART_AUTHN_UNAVAILABLE: { status: 503, title: 'Authentication temporarily unavailable' },
  // Authorization (roles, permissions, conditions, object ownership)
  RAMPART_AUTHZ_DENIED: { status: 403, title: 'Not allowed by the access policy' },
  RAMPART_AUTHZ_NOT_OWNER: { status: 403, title: 'The resource belongs to someone else' },
  RAMPART_AUTHZ_NOT_FOUND: { status: 404, title: 'Not found' },
  RAMPART_AUTHZ_RESPONSE_UNVERIFIED: { status: 502, title: 'The upstream answer could not be checked against the access policy' },
  // Rate limiting and throttling (throttle, quota, per-upstream concurrency, load shedding)
  RAMPART_RATELIMIT_EXCEEDED: { status: 429, title: 'Rate limit exceeded' },
  RAMPART_RATELIMIT_QUEUE_FULL: { status: 429, title: 'Too many requests waiting' },
  RAMPART_RATELIMIT_STORE_UNAVAILABLE: { status: 503, title: 'Rate limit store unavailable' },
  RAMPART_UPSTREAM_SATURATED: { status: 503, title: 'Upstream service at its concurrency limit' },
  RAMPART_GATEWAY_OVERLOADED: { status: 503, title: 'Gateway overloaded' },
  // Upstreams
  RAMPART_UPSTREAM_UNAVAILABLE: { status: 503, title: 'Upstream service unavailable' },
  RAMPART_UPSTREAM_CONNECT_FAILED: { status: 502, title: 'Upstream service could not be reached' },
  RAMPART_UPSTREAM_TIMEOUT: { status: 504, title: 'Upstream service did not answer in time' },
  RAMPART_UPSTREAM_ERROR: { status: 502, title: 'Upstream service error' },
  RAMPART_UPSTREAM_REJECTED: { status: 400, title: 'The upstream service refused the request' },
  RAMPART_UPSTREAM_RESPONSE_TOO_LARGE: { status: 502, title: 'Upstream response too large' },
  RAMPART_UPSTREAM_PROTOCOL_ERROR: { status: 502, title: 'Invalid response from upstream service' },
  // Request bodies (the core's one JSON parse, src/core/body/json.ts)
  RAMPART_BODY_JSON_INVALID: { status: 400, title: 'Request body is not acceptable JSON' },
  RAMPART_BODY_TOO_COMPLEX: { status: 413, title: 'Request body exceeds the structure limits' },
  RAMPART_BODY_ENCODING_UNSUPPORTED: { status: 415, title: 'Content-Encoding not supported' },
  // Input validation against the upstream's OpenAPI document, and the response contract
  RAMPART_VALIDATION_OPERATION_UNKNOWN: { status: 404, title: 'No documented operation matches this request' },
  RAMPART_VALIDATION_METHOD_UNKNOWN: { status: 405, title: 'Method not documented for this path' },
  RAMPART_VALIDATION_PARAMETER_INVALID: { status: 400, title: 'Request parameters do not match the API description' },
  RAMPART_VALIDATION_CONTENT_TYPE_UNSUPPORTED: { status: 415, title: 'Content type not accepted by this operation' },
  RAMPART_VALIDATION_BODY_INVALID: { status: 422, title: 'Request body does not match the API description' },
  RAMPART_VALIDATION_UNSAFE_INPUT: { status: 400, title: 'Request contains unsafe input' },
  RAMPART_VALIDATION_RESPONSE_INVALID: { status: 502, title: 'Upstream response does not match the API description' },
  // The gateway itself
  RAMPART_GATEWAY_INTERNAL: { status: 500, title: 'Internal gateway error' },
  RAMPART_GATEWAY_SHUTTING_DOWN: { status: 503, title: 'Gateway is shutting down' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof CATALOG;

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(CATALOG, code);
}

/** The problem `type` URI of a code: stable, documented in docs/errors.md. */
export function problemType(code: ErrorCode): string {
  return `https://rampart.dev/errors/${code.toLowerCase().replaceAll('_', '-')}`;
}
