/**
 * A ProviderCatalog pointing at fake OAuth servers, built from the same config
 * data (and zod defaults) a real deployment would use.
 */
import { ProviderCatalog } from '../../../src/providers/catalog.js';
import { providerSchema, type ProviderConfig } from '../../../src/providers/schema.js';
import { UpstreamOAuth } from '../../../src/providers/upstream-oauth.js';
import type { FakeOAuthServer } from '../../../src/dev/fake-oauth-server.js';

export const FAKE_CLIENT_ID = 'token-vault';
export const FAKE_CLIENT_SECRET = 'token-vault-secret';
export const FAKE_REDIRECT_URI = 'https://127.0.0.1:8443/connections/callback';

export const fakeClient = { clientId: FAKE_CLIENT_ID, clientSecret: FAKE_CLIENT_SECRET, redirectUris: [FAKE_REDIRECT_URI] };

const readOperation = { description: 'Read records', methods: ['GET'], paths: ['/**'] };

type Entry =
  | { kind: 'salesforce'; server: FakeOAuthServer; scopes?: string[]; timeoutMs?: number }
  | { kind: 'servicenow'; server: FakeOAuthServer; scopes?: string[]; timeoutMs?: number }
  | { kind: 'oidc'; server: FakeOAuthServer; scopes?: string[]; timeoutMs?: number };

function configOf(entry: Entry): ProviderConfig {
  const common = {
    displayName: `Fake ${entry.server.profile}`,
    clientId: FAKE_CLIENT_ID,
    scopes: entry.scopes ?? [],
    operations: { 'records.read': readOperation },
    allowPrivateNetwork: true,
    ...(entry.timeoutMs ? { timeoutMs: entry.timeoutMs } : {}),
  };
  switch (entry.kind) {
    case 'salesforce':
      return providerSchema.parse({ kind: 'salesforce', loginUrl: entry.server.origin, ...common });
    case 'servicenow':
      return providerSchema.parse({ kind: 'servicenow', instanceUrl: entry.server.origin, ...common });
    case 'oidc':
      return providerSchema.parse({ kind: 'oidc', issuer: entry.server.issuer, apiBaseUrl: `${entry.server.origin}/api`, ...common });
  }
}

/** The vault's own OAuth client, configured for the given fakes (all with the shared test client). */
export function upstreamFor(entries: Record<string, Entry>): { catalog: ProviderCatalog; upstream: UpstreamOAuth } {
  const configs = Object.fromEntries(Object.entries(entries).map(([id, e]) => [id, configOf(e)]));
  const problems = ProviderCatalog.problems(configs, {});
  if (problems.length > 0) throw new Error(problems.join('; '));
  const catalog = new ProviderCatalog(configs, {});
  const secrets = new Map(Object.keys(entries).map((id) => [id, FAKE_CLIENT_SECRET]));
  return { catalog, upstream: new UpstreamOAuth(catalog, secrets) };
}
