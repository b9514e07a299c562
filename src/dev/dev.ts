/**
 * `npm run dev`: the whole vault on one machine with no setup. Generates
 * development keys and certificates under keys/dev/ when missing, uses the
 * in-memory store (or Redis when REDIS_URL is set), starts a demo identity
 * provider and a demo "CRM" OAuth provider in process (oidc-provider, on the
 * two ports after the public one) so a newcomer can sign in, link and consent
 * in a browser, and prints how to call it.
 * Never used in production: the Dockerfile runs dist/main.js.
 */
import { resolve } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { loadConfig, ConfigError } from '../config/load.js';
import { prepareRuntime, StartupError } from '../boot.js';
import { buildApp } from '../app.js';
import { ensureDevKeys } from './keys.js';
import { startDemoProviders, type DemoProviders } from './demo-providers.js';

const DEV_DIR = resolve('keys/dev');

/** The demo agent: may read and change CRM contacts, once the user consents. */
export const DEMO_AGENT = 'spiffe://dev.local/agents/demo';

/** Sign-in at the demo IdP, the demo CRM as provider `crm`, and one demo agent. */
function demoConfig(demo: DemoProviders) {
  const local = { allowPrivateNetwork: true };
  return {
    identity: {
      login: { issuer: demo.idp.issuer, clientId: demo.idp.clientId, clientSecretFile: demo.idp.clientSecretFile, ...local },
      subjectIssuers: [{ issuer: demo.idp.issuer, jwksUri: `${demo.idp.issuer}/jwks`, ...local }],
    },
    providers: {
      crm: {
        kind: 'oidc',
        displayName: 'Demo CRM',
        issuer: demo.crm.issuer,
        apiBaseUrl: demo.crm.apiBaseUrl,
        clientId: demo.crm.clientId,
        clientSecretFile: demo.crm.clientSecretFile,
        scopes: demo.crm.scopes,
        ...local,
        operations: {
          'contacts.read': { description: 'Read your CRM contacts', scopes: ['contacts.read'], methods: ['GET'], paths: ['/contacts', '/contacts/**'] },
          'contacts.write': {
            description: 'Create and change your CRM contacts',
            scopes: ['contacts.write'],
            methods: ['POST', 'PATCH'],
            paths: ['/contacts', '/contacts/*'],
          },
        },
      },
    },
    agents: { [DEMO_AGENT]: { displayName: 'Demo agent', operations: ['crm:contacts.read', 'crm:contacts.write'] } },
  };
}

export const devDefaults = (dir: string) => ({
  mode: 'dev',
  publicUrl: 'https://127.0.0.1:8443',
  listeners: { public: { host: '127.0.0.1', port: 8443 }, internal: { host: '127.0.0.1', port: 9443 } },
  tls: { cert: `${dir}/server.crt`, key: `${dir}/server.key`, gatewayCa: `${dir}/ca.crt` },
  gateways: { allow: ['spiffe://dev.local/gateway'] },
  admins: { allow: ['spiffe://dev.local/admin'] },
  keys: { dir },
  store: { kind: 'memory' },
  log: { level: 'info' },
});

async function main(): Promise<void> {
  const { created } = await ensureDevKeys(DEV_DIR);
  const base = loadConfig(process.env, devDefaults(DEV_DIR));
  if (base.mode !== 'dev') throw new ConfigError(['mode: npm run dev only runs in dev mode']);
  // One host spelling everywhere (127.0.0.1): cookies and redirect URIs must agree.
  const port = base.listeners.public.port;
  const vaultUrl = `https://127.0.0.1:${port}`;
  const demo = await startDemoProviders({ publicUrl: vaultUrl, keysDir: DEV_DIR, idpPort: port + 1, crmPort: port + 2 });
  const config = loadConfig(process.env, { ...devDefaults(DEV_DIR), publicUrl: vaultUrl, ...demoConfig(demo) });
  const runtime = await prepareRuntime(config);
  const app = await buildApp(config, runtime);
  closeWithGrace({ delay: config.limits.shutdownGraceMs }, async () => {
    await app.close();
    await runtime.stores.close();
    await demo.stop();
  });
  const { publicUrl, internalUrl } = await app.listen();
  const rel = 'keys/dev';
  const banner = [
    '',
    '  ==========================================================',
    '   TOKEN VAULT — DEVELOPMENT MODE. Not for real credentials.',
    '  ==========================================================',
    `   keys:      ${rel}/ ${created ? '(generated now)' : '(existing)'}`,
    `   store:     ${config.store.kind === 'redis' ? `redis (${config.store.redis.url})` : 'in-memory (data is lost on exit)'}`,
    `   public:    ${publicUrl}`,
    `   internal:  ${internalUrl}   (mTLS: client certificate required)`,
    '',
    `   Demo: open ${vaultUrl}/connections (accept the dev certificate), sign in at the`,
    `   demo IdP (${demo.idp.issuer}) as alice / alice, link "Demo CRM", tick what the`,
    `   demo agent may do. Other users: bob / bob, admin / admin.`,
    '',
    '   Try it (dev gateway certificate):',
    `   curl --cert ${rel}/gateway.crt --key ${rel}/gateway.key --cacert ${rel}/ca.crt ${internalUrl}/healthz`,
    '',
  ].join('\n');
  process.stdout.write(`${banner}\n`);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof StartupError) process.stderr.write(`token-vault (dev): ${err.message}\n`);
  else process.stderr.write(`token-vault (dev): failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
