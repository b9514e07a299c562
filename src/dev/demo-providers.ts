/**
 * The built-in demo identity provider and demo "CRM" of `npm run dev`, on
 * fixed loopback ports so printed URLs stay stable between runs. Their client
 * secrets are generated at every start and handed over in 0600 files, because
 * dev mode, like production, reads client secrets from files only. The demo
 * IdP signs with its key under keys/dev/ and also serves the demo agent
 * issuer's JWKS, so user and agent tokens can be minted outside this process
 * (src/dev/demo/identities.ts).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CRM_SCOPES, startFakeOAuthServer, type FakeOAuthServer } from './fake-oauth-server.js';
import { signingKeysFrom } from './fake-oauth-keys.js';
import { ensureDemoIdentityKeys } from './keys.js';
import { demoCrmApi } from './demo/crm-api.js';
import { demoIssuers, demoSigner, jwksMiddleware } from './demo/identities.js';

export interface DemoProvidersOptions {
  /** The vault's public URL, e.g. `https://127.0.0.1:8443`. */
  publicUrl: string;
  /** Where the secret files go (dev keys directory). */
  keysDir: string;
  /** The vault's sign-in callback; default `${publicUrl}/auth/callback`. */
  signInRedirectUri?: string;
  /** The vault's callback for linking the CRM; default `${publicUrl}/connections/crm/callback`. */
  crmRedirectUri?: string;
  /** Default 8444. */
  idpPort?: number;
  /** Default 8445. */
  crmPort?: number;
}

export interface DemoProvider {
  server: FakeOAuthServer;
  /** Issuer for discovery (`<issuer>/.well-known/openid-configuration`). */
  issuer: string;
  clientId: string;
  /** A 0600 file holding the client secret. */
  clientSecretFile: string;
}

export interface DemoProviders {
  idp: DemoProvider;
  /** Issuer of demo agent tokens and where its JWKS is served. */
  agents: { issuer: string; jwksUri: string };
  crm: DemoProvider & { apiBaseUrl: string; scopes: string[] };
  stop(): Promise<void>;
}

export const DEMO_CLIENT_ID = 'token-vault-dev';

async function writeSecret(dir: string, name: string): Promise<{ secret: string; file: string }> {
  const secret = randomBytes(32).toString('base64url');
  const file = join(dir, name);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFile(file, `${secret}\n`, { mode: 0o600 });
  // writeFile's mode only applies when it creates the file: a file left by an earlier run keeps its own.
  await chmod(file, 0o600);
  return { secret, file };
}

export async function startDemoProviders(options: DemoProvidersOptions): Promise<DemoProviders> {
  const publicUrl = options.publicUrl.replace(/\/+$/, '');
  const [idpSecret, crmSecret] = await Promise.all([
    writeSecret(options.keysDir, 'demo-idp-client-secret'),
    writeSecret(options.keysDir, 'demo-crm-client-secret'),
  ]);
  await ensureDemoIdentityKeys(options.keysDir);
  const [idpKey, agentKey] = await Promise.all([demoSigner(options.keysDir, 'idp'), demoSigner(options.keysDir, 'agent')]);
  // The agent JWKS path is fixed relative to the IdP's origin, which is known once it listens.
  const agentJwksPath = new URL(demoIssuers('http://127.0.0.1').agentJwksUri).pathname;
  const idp = await startFakeOAuthServer({
    profile: 'idp',
    port: options.idpPort ?? 8444,
    signingKeys: await signingKeysFrom([{ alg: 'ES256', privateKey: idpKey.privateKey }]),
    middleware: [jwksMiddleware(agentJwksPath, [agentKey.publicJwk])],
    clients: [{ clientId: DEMO_CLIENT_ID, clientSecret: idpSecret.secret, redirectUris: [options.signInRedirectUri ?? `${publicUrl}/auth/callback`] }],
  });
  let crm: FakeOAuthServer;
  try {
    crm = await startFakeOAuthServer({
      profile: 'crm',
      port: options.crmPort ?? 8445,
      refreshTokenRotation: true,
      api: demoCrmApi(),
      clients: [
        { clientId: DEMO_CLIENT_ID, clientSecret: crmSecret.secret, redirectUris: [options.crmRedirectUri ?? `${publicUrl}/connections/crm/callback`] },
      ],
    });
  } catch (err) {
    await idp.stop();
    throw err;
  }
  return {
    idp: { server: idp, issuer: idp.issuer, clientId: DEMO_CLIENT_ID, clientSecretFile: idpSecret.file },
    agents: { issuer: demoIssuers(idp.origin).agent, jwksUri: demoIssuers(idp.origin).agentJwksUri },
    crm: {
      server: crm,
      issuer: crm.issuer,
      clientId: DEMO_CLIENT_ID,
      clientSecretFile: crmSecret.file,
      apiBaseUrl: `${crm.origin}/api`,
      scopes: ['openid', ...CRM_SCOPES],
    },
    stop: async () => {
      await Promise.all([idp.stop(), crm.stop()]);
    },
  };
}
