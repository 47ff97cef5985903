/**
 * The `store` section of rampart.yaml: where users, clients, API keys, the deny-list, the
 * authorization server's artefacts and the audit trail live. SQLite (`<dataDir>/rampart.db`) by
 * default; PostgreSQL for cluster mode, where every gateway instance shares it.
 */
import type { SecretRef } from '../config/types.ts';
import type { JsonSchema } from '../core/stage.ts';

export interface StoreConfig {
  readonly kind: 'sqlite' | 'postgres';
  readonly postgres?: {
    /** Connection URL, by reference only (it carries the password). */
    readonly url: SecretRef;
    readonly schema: string;
    readonly poolSize: number;
    readonly timeoutMs: number;
  };
}

export function storeRootSchema(secretRef: JsonSchema): JsonSchema {
  return {
    type: 'object',
    additionalProperties: false,
    default: {},
    properties: {
      kind: { enum: ['sqlite', 'postgres'], default: 'sqlite' },
      postgres: {
        type: 'object',
        additionalProperties: false,
        required: ['url'],
        properties: {
          url: secretRef,
          schema: { type: 'string', pattern: '^[a-z_][a-z0-9_]{0,62}$', default: 'public', 'x-message': 'must be a lower-case SQL identifier' },
          poolSize: { type: 'integer', minimum: 1, maximum: 1000, default: 10 },
          timeoutMs: { type: 'integer', minimum: 100, maximum: 60_000, default: 5000 },
        },
      },
    },
  };
}

export interface StoreIssue {
  readonly path: Array<string | number>;
  readonly message: string;
  readonly severity: 'error' | 'warning';
}

/** Cross-field checks the schema cannot say. */
export function checkStoreSettings(store: StoreConfig | undefined): StoreIssue[] {
  if (!store) return [];
  if (store.kind === 'postgres' && !store.postgres) {
    return [{ path: ['store', 'postgres'], message: 'kind: postgres needs postgres.url (a secret reference: { env: NAME } or { file: PATH })', severity: 'error' }];
  }
  if (store.kind === 'sqlite' && store.postgres) {
    return [{ path: ['store', 'postgres'], message: 'ignored: kind is sqlite (set kind: postgres to use it)', severity: 'warning' }];
  }
  return [];
}
