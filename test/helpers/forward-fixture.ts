/**
 * Everything a /forward test needs, all real: a private redis-server, an
 * oidc-provider "crm" authorization server (refresh rotation, revocation,
 * introspection), the Fastify CRM API behind it (test/helpers/crm-api.ts),
 * and a vault whose `crm` provider points at both, with a grant of alice
 * holding a real upstream refresh token and its access token.
 */
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:tls';
import { join } from 'node:path';
import { startFakeOAuthServer, type FakeOAuthServer } from '../../src/dev/fake-oauth-server.js';
import type { Grant } from '../../src/store/grant-store.js';
import { startCrmApi, type CrmApi } from './crm-api.js';
import { AGENT_A, exchangeParams, startExchangeVault, type ExchangeVault } from './exchange-fixture.js';
import { FAKE_CLIENT_ID, FAKE_CLIENT_SECRET, fakeClient } from './fake-providers/catalog.js';
import { call, type ClientCert, type Response } from './https-client.js';
import { startRedis, type RedisHandle } from './redis-server.js';
import { createTestPki } from './vault.js';

export const CRM_OPERATIONS = {
  'records.read': { description: 'Read one record', methods: ['GET', 'HEAD'], paths: ['/records/{id}'] },
  'records.write': { description: 'Create or replace records', methods: ['POST', 'PUT'], paths: ['/records', '/records/{id}'] },
  'records.browse': { description: 'Browse records', methods: ['GET'], paths: ['/records/**'], uses: 5 },
  // The demo CRM's operation in dev mode (src/dev/dev.ts), which the README's examples use.
  'contacts.read': { description: 'Read your CRM contacts', methods: ['GET'], paths: ['/contacts', '/contacts/**'] },
  'files.download': { description: 'Download an export', methods: ['GET'], paths: ['/big', '/slow'] },
  'debug.echo': {
    description: 'A broken endpoint that echoes credentials',
    methods: ['GET'],
    paths: ['/echo-auth', '/leak-header', '/echo-auth-encoded', '/echo-auth-encoded-body', '/gzip'],
  },
};

export const OTHER_GATEWAY = 'spiffe://dev.local/other';

export type CrmOperation = keyof typeof CRM_OPERATIONS;

export interface ForwardWorld {
  redis: RedisHandle;
  oauth: FakeOAuthServer;
  crm: CrmApi;
  vault: ExchangeVault;
  grant: Grant;
  /** The upstream tokens of alice's grant as issued (the refresh token rotates later). */
  upstream: { refreshToken: string; accessToken: string };
  /** A fresh operation token for `operation` from POST /exchange (with the gateway certificate). */
  operationToken(operation?: CrmOperation, user?: string): Promise<string>;
  /** A request to /forward/crm{path} with this operation token, on the gateway certificate unless told. */
  forward(
    path: string,
    token: string,
    init?: { method?: string; headers?: Record<string, string>; body?: string | Buffer; client?: ClientCert },
  ): Promise<Response>;
  close(): Promise<void>;
}

export interface ForwardWorldOptions {
  limits?: Record<string, number>;
  /** The internal URL gateways are told to use (its host is a name the vault answers to). */
  internalUrl?: string;
  /** Operations added to the CRM's (consented for agent A like the others). */
  extraOperations?: Record<string, unknown>;
  /** Raw config values merged over the world's (e.g. `approvals`). */
  overrides?: Record<string, unknown>;
}

export async function startForwardWorld(options: ForwardWorldOptions = {}): Promise<ForwardWorld> {
  const redis = await startRedis();
  const oauth = await startFakeOAuthServer({ profile: 'crm', clients: [fakeClient] });
  const crm = await startCrmApi({ introspectionEndpoint: `${oauth.origin}/token/introspection`, clientId: FAKE_CLIENT_ID, clientSecret: FAKE_CLIENT_SECRET });
  const pki = await createTestPki();
  const secretFile = join(pki.dir, 'crm-client-secret');
  await writeFile(secretFile, FAKE_CLIENT_SECRET, { mode: 0o600 });
  const operations = { ...CRM_OPERATIONS, ...(options.extraOperations ?? {}) };
  const names = Object.keys(operations).map((op) => `crm:${op}`);
  const vault = await startExchangeVault({
    pki,
    redisUrl: redis.url,
    providers: {
      crm: {
        kind: 'oauth2',
        displayName: 'CRM',
        clientId: FAKE_CLIENT_ID,
        clientSecretFile: secretFile,
        authorizationEndpoint: `${oauth.origin}/auth`,
        tokenEndpoint: `${oauth.origin}/token`,
        revocationEndpoint: `${oauth.origin}/token/revocation`,
        introspectionEndpoint: `${oauth.origin}/token/introspection`,
        apiBaseUrl: `${crm.origin}/api`,
        allowPrivateNetwork: true,
        operations,
      },
    },
    agents: { [AGENT_A]: { displayName: 'Agent A', operations: names } },
    // `other` is a second allowed gateway: a token bound to one gateway's certificate, presented by the other.
    overrides: {
      gateways: { allow: ['spiffe://dev.local/gateway', OTHER_GATEWAY] },
      ...(options.limits ? { limits: { forward: options.limits } } : {}),
      ...(options.internalUrl ? { internalUrl: options.internalUrl } : {}),
      ...(options.overrides ?? {}),
    },
  });
  const upstream = await oauth.issueRefreshTokenFor({ accountId: 'alice', clientId: FAKE_CLIENT_ID, scope: 'offline_access contacts.read' });
  const grant = await vault.seedGrant(
    'alice',
    { consent: { [AGENT_A]: names } },
    { refreshToken: upstream.refreshToken, accessToken: { value: upstream.accessToken, expiresInMs: 3_600_000 } },
  );

  return {
    redis,
    oauth,
    crm,
    vault,
    grant,
    upstream,
    async operationToken(operation = 'records.read', user = 'alice') {
      const res = await vault.exchange(await exchangeParams(vault.ids, user, AGENT_A, { scope: `crm:${operation}` }));
      if (res.status !== 200) throw new Error(`exchange failed: ${res.status} ${res.text}`);
      return res.json<{ access_token: string }>().access_token;
    },
    forward(path, token, init = {}) {
      return call(`${vault.internalUrl}/forward/crm${path}`, {
        method: init.method ?? 'GET',
        ca: vault.pki.ca,
        client: init.client ?? vault.pki.gateway,
        headers: { authorization: `Bearer ${token}`, ...(init.headers ?? {}) },
        ...(init.body !== undefined ? { body: init.body } : {}),
      });
    },
    async close() {
      await vault.close();
      await crm.close();
      await oauth.stop();
      await redis.stop();
    },
  };
}

/**
 * One request written byte for byte over an mTLS connection (request targets and
 * Host values an HTTP client library would refuse or fix), answer read to the end.
 */
export interface RawResponse {
  status: number;
  /** Status line, headers and body as received. */
  text: string;
  headers: Record<string, string>;
  body: string;
}

/** `GET <target>` (sent exactly as given) with this bearer token and the vault's own Host. */
export function rawForward(vault: ExchangeVault, target: string, token: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  const lines = Object.entries({ host: `127.0.0.1:${new URL(vault.internalUrl).port}`, authorization: `Bearer ${token}`, connection: 'close', ...headers }).map(
    ([k, v]) => `${k}: ${v}\r\n`,
  );
  return rawRequest(vault, `GET ${target} HTTP/1.1\r\n${lines.join('')}\r\n`);
}

export function rawRequest(vault: ExchangeVault, head: string): Promise<RawResponse> {
  const { port } = new URL(vault.internalUrl);
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port: Number(port), ca: vault.pki.ca, cert: vault.pki.gateway.cert, key: vault.pki.gateway.key }, () => {
      socket.write(head);
    });
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const split = text.indexOf('\r\n\r\n');
      const headers = Object.fromEntries(
        text
          .slice(0, split)
          .split('\r\n')
          .slice(1)
          .map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]),
      );
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0), text, headers, body: split === -1 ? '' : text.slice(split + 4) });
    });
  });
}
