/**
 * A vault whose providers are fake Salesforce orgs (oidc-provider with
 * refresh rotation and reuse detection), and helpers to seed grants holding
 * REAL upstream refresh tokens and to fire concurrent exchanges.
 */
import { writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import type { FakeOAuthServer } from '../../src/dev/fake-oauth-server.js';
import type { Grant } from '../../src/store/grant-store.js';
import { AGENT_A, exchangeParams, startExchangeVault, type ExchangeVault } from './exchange-fixture.js';
import { FAKE_CLIENT_ID, FAKE_CLIENT_SECRET } from './fake-providers/catalog.js';
import { call, type Response } from './https-client.js';
import { createTestPki } from './vault.js';

export const SF_SCOPE = 'api refresh_token';

export function salesforceProvider(server: FakeOAuthServer, clientSecretFile: string, extra: Record<string, unknown> = {}) {
  return {
    kind: 'salesforce',
    displayName: 'Salesforce (fake)',
    clientId: FAKE_CLIENT_ID,
    clientSecretFile,
    loginUrl: server.origin,
    scopes: ['api', 'refresh_token'],
    allowPrivateNetwork: true,
    // The fake org's instance_url is its own loopback origin.
    instanceHosts: [new URL(server.origin).hostname],
    operations: { 'records.read': { description: 'Read records', methods: ['GET'], paths: ['/services/data/**'] } },
    ...extra,
  };
}

export async function startSalesforceVault(
  servers: Record<string, { server: FakeOAuthServer; extra?: Record<string, unknown> }>,
  redisUrl?: string,
  /** Raw config values merged over the test defaults (webhooks, limits). */
  overrides?: (pkiDir: string) => Promise<Record<string, unknown>>,
): Promise<ExchangeVault> {
  const pki = await createTestPki();
  const secretFile = join(pki.dir, 'salesforce-client-secret');
  await writeFile(secretFile, FAKE_CLIENT_SECRET, { mode: 0o600 });
  const providers = Object.fromEntries(Object.entries(servers).map(([id, { server, extra }]) => [id, salesforceProvider(server, secretFile, extra)]));
  const operations = Object.entries(providers).flatMap(([id, p]) => Object.keys(p.operations as object).map((op) => `${id}:${op}`));
  const agents = { [AGENT_A]: { displayName: 'Agent A', operations } };
  return startExchangeVault({ pki, providers, agents, ...(redisUrl ? { redisUrl } : {}), ...(overrides && { overrides: await overrides(pki.dir) }) });
}

/** A grant whose refresh token is a real one at the fake, with no cached access token (so the next exchange refreshes). */
export async function seedSalesforceGrant(vault: ExchangeVault, server: FakeOAuthServer, provider: string, user: string): Promise<Grant> {
  const { refreshToken } = await server.issueRefreshTokenFor({ accountId: 'alice', clientId: FAKE_CLIENT_ID, scope: SF_SCOPE });
  return vault.seedGrant(
    user,
    { provider, instanceUrl: server.origin, consent: { [AGENT_A]: [`${provider}:records.read`] } },
    { refreshToken, accessToken: null },
  );
}

/** `count` exchanges at once against `internalUrl`, over keep-alive mTLS connections. */
export async function storm(vault: ExchangeVault, internalUrl: string, provider: string, user: string, count: number): Promise<Response[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64, ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key });
  const params = await exchangeParams(vault.ids, user, AGENT_A, { resource: provider, scope: `${provider}:records.read` });
  const body = new URLSearchParams(params).toString();
  try {
    return await Promise.all(
      Array.from({ length: count }, () =>
        call(`${internalUrl}/exchange`, {
          method: 'POST',
          ca: vault.pki.ca,
          client: vault.pki.gateway,
          agent,
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        }),
      ),
    );
  } finally {
    agent.destroy();
  }
}
