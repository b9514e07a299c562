/**
 * A real vault with the consent pages, signed in through a fake IdP, with
 * fake Salesforce (instance_url, no expires_in, rotation) and ServiceNow
 * (per-instance host) providers, all oidc-provider on loopback.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../src/dev/fake-oauth-server.js';
import { openRefreshToken } from '../../src/grants/secrets.js';
import type { Grant } from '../../src/store/grant-store.js';
import { BrowserClient, type PageResponse } from './browser-client.js';
import { call, type Response } from './https-client.js';
import { createIssuer } from './identity-issuers.js';
import { runLoginFlow } from './fake-providers/login-flow.js';
import { freePort } from './free-port.js';
import { startVault, type TestVault } from './vault.js';

export const CLIENT_ID = 'token-vault';
export const CLIENT_SECRET = 'canary-client-secret-4b1d6c0e';
export const SUPPORT_AGENT = 'spiffe://corp.example/agents/support';
export const SALES_AGENT = 'spiffe://corp.example/agents/sales';

const op = (description: string) => ({ description, methods: ['GET'], paths: ['/**'] });

export interface LinkingVault {
  vault: TestVault;
  idp: FakeOAuthServer;
  salesforce: FakeOAuthServer;
  servicenow: FakeOAuthServer;
  publicUrl: string;
  /** A browser signed in at the IdP as `login`. */
  signIn(login?: string): Promise<BrowserClient>;
  /** Link `provider` in `browser` as upstream account `login`; returns the vault's answer to the callback. */
  link(browser: BrowserClient, provider: string, login?: string, extra?: Record<string, string>): Promise<PageResponse>;
  /** Walk the provider pages for a link started in `browser`, returning the callback path (not yet visited). */
  authorize(browser: BrowserClient, provider: string, login?: string, extra?: Record<string, string>): Promise<string>;
  grants(userLogin?: string): Promise<Grant[]>;
  /** The plaintext refresh token of a grant (to ask the fake about it). */
  refreshTokenOf(grant: Grant): string;
  fake(provider: string): FakeOAuthServer;
  /** Every grant in the store, all users (before/after comparisons). */
  allGrants(): Promise<Grant[]>;
  /** Stop a fake provider (its host stops answering). */
  stopFake(provider: string): Promise<void>;
  /** Start a fresh fake on the same port (it remembers nothing); `apiBaseUrl`: the Salesforce `instance_url` it answers with. */
  restartFake(provider: string, options?: { apiBaseUrl?: string }): Promise<FakeOAuthServer>;
  /**
   * POST /exchange over mTLS with the gateway certificate: `login` (a user of the IdP, so the
   * same user id as the consent pages) by `agent` for `operation` (`provider:local`).
   */
  exchange(login: string, agent: string, operation: string): Promise<Response>;
  /** POST /exchange with `params` over the identity tokens of `login` and `agent` (any grant type). */
  tokenRequest(login: string, agent: string, params: Record<string, string>): Promise<Response>;
  /** A /forward request on the gateway certificate with `token`. */
  forward(path: string, token: string, init: { method: string; body?: string }): Promise<Response>;
  close(): Promise<void>;
}

export interface LinkingVaultOptions {
  redisUrl?: string;
  stateTtlSeconds?: number;
  /** Milliseconds before the provider's token endpoint answers count as a timeout. */
  providerTimeoutMs?: number;
  revocationRetry?: Record<string, number>;
  /** Salesforce's scopes and the scopes its operations declare (default `api refresh_token`, none per operation). */
  salesforceScopes?: { provider: string[]; operations: Record<'records.read' | 'records.write', string[]> };
  /** Adds Salesforce `records.create` with `approval: user` (POST only), in the sales agent's ceiling; polls every second. */
  userApprovedCreate?: boolean;
}

export async function startLinkingVault(options: LinkingVaultOptions = {}): Promise<LinkingVault> {
  const port = await freePort();
  const publicUrl = `https://127.0.0.1:${port}`;
  const dir = await mkdtemp(join(tmpdir(), 'tv-linking-'));
  const secretFile = join(dir, 'client-secret');
  await writeFile(secretFile, `${CLIENT_SECRET}\n`, { mode: 0o600 });
  await chmod(secretFile, 0o600);
  const client = (path: string) => ({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, redirectUris: [`${publicUrl}${path}`] });
  const [idp, salesforce, servicenow] = await Promise.all([
    startFakeOAuthServer({ profile: 'idp', clients: [client('/auth/callback')] }),
    startFakeOAuthServer({ profile: 'salesforce', clients: [client('/connections/salesforce/callback')] }),
    startFakeOAuthServer({ profile: 'servicenow', clients: [client('/connections/servicenow/callback')] }),
  ]);
  // Subject tokens as the IdP would sign them (same issuer, so the same user ids as sign-in), and agent tokens.
  const [subjects, agentIssuer] = await Promise.all([
    createIssuer(dir, 'idp-tokens', idp.issuer, 'EdDSA'),
    createIssuer(dir, 'agent-tokens', 'https://agents.test', 'ES256'),
  ]);
  const common = {
    clientId: CLIENT_ID,
    clientSecretFile: secretFile,
    allowPrivateNetwork: true,
    ...(options.providerTimeoutMs ? { timeoutMs: options.providerTimeoutMs } : {}),
  };
  const vault = await startVault({
    ...(options.redisUrl ? { redisUrl: options.redisUrl } : {}),
    overrides: {
      publicUrl,
      listeners: { public: { host: '127.0.0.1', port }, internal: { host: '127.0.0.1', port: 0 }, metrics: { host: '127.0.0.1', port: 0 } },
      identity: {
        login: { issuer: idp.issuer, clientId: CLIENT_ID, clientSecretFile: secretFile, allowPrivateNetwork: true },
        subjectIssuers: [{ issuer: subjects.issuer, jwksFile: subjects.jwksFile, algorithms: ['EdDSA'] }],
        actorIssuers: [{ issuer: agentIssuer.issuer, jwksFile: agentIssuer.jwksFile, algorithms: ['ES256'] }],
      },
      linking: {
        ...(options.stateTtlSeconds ? { stateTtlSeconds: options.stateTtlSeconds } : {}),
        revocationRetry: { intervalMs: 3_600_000, ...options.revocationRetry },
      },
      providers: {
        salesforce: {
          kind: 'salesforce',
          displayName: 'Salesforce',
          loginUrl: salesforce.origin,
          // The fake org's instance_url is its own loopback origin.
          instanceHosts: [new URL(salesforce.origin).hostname],
          scopes: options.salesforceScopes?.provider ?? ['api', 'refresh_token'],
          operations: {
            'records.read': { ...op('Read your Salesforce records'), scopes: options.salesforceScopes?.operations['records.read'] ?? [] },
            'records.write': { ...op('Change your Salesforce records'), scopes: options.salesforceScopes?.operations['records.write'] ?? [] },
            ...(options.userApprovedCreate && {
              'records.create': { description: 'Create Salesforce records, each one approved by you', methods: ['POST'], paths: ['/**'], approval: 'user' },
            }),
          },
          ...common,
        },
        servicenow: {
          kind: 'servicenow',
          displayName: 'ServiceNow',
          instanceUrl: servicenow.origin,
          scopes: ['openid', 'useraccount'],
          operations: { 'incident.read': op('Read incidents'), 'incident.create': op('Open incidents') },
          ...common,
        },
      },
      agents: {
        [SUPPORT_AGENT]: { displayName: 'Support agent', operations: ['salesforce:records.read', 'servicenow:incident.read', 'servicenow:incident.create'] },
        [SALES_AGENT]: {
          displayName: 'Sales agent',
          operations: ['salesforce:records.read', 'salesforce:records.write', ...(options.userApprovedCreate ? ['salesforce:records.create'] : [])],
        },
      },
      ...(options.userApprovedCreate && { approvals: { pollIntervalSeconds: 1 } }),
    },
  });
  const fakes: Record<string, FakeOAuthServer> = { salesforce, servicenow };
  const profiles = { salesforce: 'salesforce', servicenow: 'servicenow' } as const;
  const stopped = new Set<string>();

  const signIn = async (login = 'alice') => {
    const browser = new BrowserClient(publicUrl, vault.pki.ca);
    const start = await browser.get('/login');
    if (start.status !== 303 || !start.location) throw new Error(`sign-in did not start: ${start.status}`);
    const { callbackUrl } = await runLoginFlow(new URL(start.location), { login, password: login, redirectUri: `${publicUrl}/auth/callback` });
    const done = await browser.get(callbackUrl.pathname + callbackUrl.search);
    if (done.status !== 303) throw new Error(`sign-in did not complete: ${done.status} ${done.text}`);
    return browser;
  };

  const authorize = async (browser: BrowserClient, provider: string, login = 'alice', extra: Record<string, string> = {}) => {
    const page = await browser.get(`/connections/${provider}`);
    const started = await browser.postForm(`/connections/${provider}/link`, { _csrf: BrowserClient.csrf(page), ...extra });
    if (started.status !== 303 || !started.location) throw new Error(`link did not start: ${started.status}`);
    const { callbackUrl } = await runLoginFlow(new URL(started.location), {
      login,
      password: login,
      redirectUri: `${publicUrl}/connections/${provider}/callback`,
    });
    return callbackUrl.pathname + callbackUrl.search;
  };

  const tokenRequest = async (login: string, agent: string, params: Record<string, string>) => {
    const body = new URLSearchParams({
      subject_token: await subjects.sign({ sub: login, aud: publicUrl }),
      subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      actor_token: await agentIssuer.sign({ sub: agent, aud: publicUrl }),
      actor_token_type: 'urn:ietf:params:oauth:token-type:jwt',
      ...params,
    });
    return call(`${vault.internalUrl}/exchange`, {
      method: 'POST',
      ca: vault.pki.ca,
      client: vault.pki.gateway,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: body.toString(),
    });
  };

  return {
    vault,
    idp,
    salesforce,
    servicenow,
    publicUrl,
    signIn,
    authorize,
    link: async (browser, provider, login, extra) => browser.get(await authorize(browser, provider, login, extra)),
    grants: (login = 'alice') => vault.runtime.stores.grants.listByUser(`${idp.issuer}#${login}`),
    refreshTokenOf: (grant) => openRefreshToken(vault.runtime.envelope, grant),
    fake: (provider) => {
      const fake = fakes[provider];
      if (!fake) throw new Error(`no fake ${provider}`);
      return fake;
    },
    allGrants: async () => (await vault.runtime.stores.grants.list({}, 1000)).items,
    async stopFake(provider) {
      await fakes[provider]?.stop();
      stopped.add(provider);
    },
    async restartFake(provider, options = {}) {
      const old = fakes[provider];
      const profile = profiles[provider as keyof typeof profiles];
      if (!old || !profile) throw new Error(`no fake ${provider}`);
      if (!stopped.has(provider)) await old.stop();
      const fresh = await startFakeOAuthServer({
        profile,
        port: Number(new URL(old.origin).port),
        clients: [client(`/connections/${provider}/callback`)],
        ...options,
      });
      fakes[provider] = fresh;
      stopped.delete(provider);
      return fresh;
    },
    exchange(login, agent, operation) {
      const params = { grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', resource: operation.split(':')[0]!, scope: operation };
      return tokenRequest(login, agent, params);
    },
    tokenRequest,
    forward(path, token, init) {
      return call(`${vault.internalUrl}/forward${path}`, {
        method: init.method,
        ca: vault.pki.ca,
        client: vault.pki.gateway,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        ...(init.body !== undefined && { body: init.body }),
      });
    },
    async close() {
      await vault.close();
      await Promise.all([
        idp.stop(),
        ...Object.entries(fakes)
          .filter(([id]) => !stopped.has(id))
          .map(([, f]) => f.stop()),
      ]);
      await rm(dir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

/**
 * The admin tests' fixture: alice links Salesforce and ServiceNow, bob links Salesforce,
 * each through the real consent pages and the fake providers.
 */
export async function linkAliceAndBob(lv: LinkingVault): Promise<void> {
  const alice = await lv.signIn('alice');
  await lv.link(alice, 'salesforce', 'alice');
  await lv.link(alice, 'servicenow', 'alice');
  const bob = await lv.signIn('bob');
  await lv.link(bob, 'salesforce', 'bob');
}
