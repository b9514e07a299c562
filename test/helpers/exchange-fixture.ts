/**
 * A vault configured for exchanges: a test IdP and agent issuer, one
 * provider `crm` with three operations, two agents, and helpers that seed
 * grants (and their cached upstream access token) through the store.
 */
import { randomUUID } from 'node:crypto';
import { sealAccessToken, sealRefreshToken } from '../../src/grants/secrets.js';
import { userIdOf } from '../../src/identity/user-id.js';
import type { Grant } from '../../src/store/grant-store.js';
import type { AuditRecord } from '../../src/audit/events.js';
import { FlakyAudit, auditRecords } from './flaky-audit.js';
import { call, type Response } from './https-client.js';
import { createIdentities, type TestIdentities } from './identity-issuers.js';
import { createTestPki, startVault, type StartOptions, type TestVault } from './vault.js';

export const AGENT_A = 'spiffe://dev.local/agent/a';
export const AGENT_B = 'spiffe://dev.local/agent/b';
export const GRANT_TYPE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
export const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';

const operation = (description: string, extra: Record<string, unknown> = {}) => ({ description, methods: ['GET'], paths: ['/records/**'], ...extra });

export const crmProvider = {
  kind: 'oauth2',
  displayName: 'CRM',
  clientId: 'vault',
  authorizationEndpoint: 'https://127.0.0.1:9/authorize',
  tokenEndpoint: 'https://127.0.0.1:9/token',
  apiBaseUrl: 'https://crm.test/api',
  allowPrivateNetwork: true,
  operations: {
    'records.read': operation('Read records'),
    'records.write': operation('Write records', { methods: ['POST'] }),
    'token.raw': operation('Use the CRM token directly', { releaseUpstreamToken: true }),
  },
};

export const testAgents = {
  [AGENT_A]: { displayName: 'Agent A', operations: ['crm:records.read', 'crm:records.write', 'crm:token.raw'] },
  [AGENT_B]: { displayName: 'Agent B', operations: ['crm:records.read'] },
};

export interface ExchangeVault extends TestVault {
  ids: TestIdentities;
  audit: FlakyAudit;
  /** Every durable audit record, in chain order. */
  auditRecords(): Promise<AuditRecord[]>;
  /** POST /exchange with the gateway certificate (form body unless a string/content type is given). */
  exchange(params: Record<string, string> | string, headers?: Record<string, string>): Promise<Response>;
  /**
   * A grant of `user` (IdP subject) sealed the way the vault seals them; `refreshToken` is the
   * plaintext upstream refresh token (default random), `accessToken` the cached upstream token (null: none).
   */
  seedGrant(user: string, overrides?: Partial<Grant>, secrets?: SeedSecrets): Promise<Grant>;
}

export interface SeedSecrets {
  refreshToken?: string;
  accessToken?: { value: string; expiresInMs: number } | null;
}

export interface ExchangeVaultOptions extends Omit<StartOptions, 'overrides'> {
  providers?: Record<string, unknown>;
  agents?: Record<string, unknown>;
  overrides?: Record<string, unknown>;
}

export async function startExchangeVault(options: ExchangeVaultOptions = {}): Promise<ExchangeVault> {
  const pki = options.pki ?? (await createTestPki());
  const ids = await createIdentities(pki.dir);
  let audit: FlakyAudit | undefined;
  const vault = await startVault({
    ...options,
    pki,
    audit: (runtime) => (audit = new FlakyAudit(runtime)),
    overrides: {
      audience: ids.audience,
      identity: ids.config,
      providers: options.providers ?? { crm: crmProvider },
      agents: options.agents ?? testAgents,
      ...(options.overrides ?? {}),
    },
  });
  const { envelope, stores } = vault.runtime;
  return {
    ...vault,
    ids,
    audit: audit!,
    auditRecords: () => auditRecords(vault.runtime),
    exchange(params, headers = {}) {
      const body = typeof params === 'string' ? params : new URLSearchParams(params).toString();
      return call(`${vault.internalUrl}/exchange`, {
        method: 'POST',
        ca: pki.ca,
        client: pki.gateway,
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...headers },
        body,
      });
    },
    async seedGrant(user, overrides = {}, secrets = {}) {
      const { refreshToken = `rt-${randomUUID()}`, accessToken = { value: `at-${randomUUID()}`, expiresInMs: 3_600_000 } } = secrets;
      const id = overrides.id ?? `g-${randomUUID()}`;
      const ref = { id, userId: userIdOf(ids.idp.issuer, user), provider: overrides.provider ?? 'crm' };
      const now = Date.now();
      const grant: Grant = {
        ...ref,
        upstreamSubject: `upstream-${user}`,
        scopes: [],
        status: 'active',
        refreshToken: sealRefreshToken(envelope, ref, refreshToken),
        version: 1,
        consent: { [AGENT_A]: ['crm:records.read', 'crm:token.raw'] },
        createdAt: now,
        updatedAt: now,
        ...overrides,
      };
      await stores.grants.create(grant);
      if (accessToken) {
        const expiresAt = now + accessToken.expiresInMs;
        await stores.tokens.cacheAccessToken(
          id,
          { ciphertext: sealAccessToken(envelope, ref, accessToken.value), expiresAt, grantVersion: grant.version },
          accessToken.expiresInMs,
        );
      }
      return grant;
    },
  };
}

/** The parameters of a well-formed exchange for `user` by `agent`. */
export async function exchangeParams(ids: TestIdentities, user: string, agent: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  return {
    grant_type: GRANT_TYPE,
    subject_token: await ids.userToken(user),
    subject_token_type: JWT_TYPE,
    actor_token: await ids.agentToken(agent),
    actor_token_type: JWT_TYPE,
    resource: 'crm',
    scope: 'crm:records.read',
    ...extra,
  };
}
