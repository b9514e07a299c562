/**
 * `npm run dev`: the whole vault on one machine with no setup. Generates
 * development keys and certificates under keys/dev/ when missing, uses the
 * in-memory store (or Redis when REDIS_URL is set), starts a demo identity
 * provider and a demo "CRM" OAuth provider in process (oidc-provider, on the
 * two ports after the public one) so a newcomer can sign in, link and consent
 * in a browser, and prints how to call it: with curl, or as the gateway with
 * `npm run demo` (src/dev/demo/cli.ts), whose user and agent tokens the
 * vault trusts here (src/dev/demo/identities.ts). Logs are pretty-printed.
 * Never used in production: the Dockerfile runs dist/main.js.
 */
import { resolve } from 'node:path';
import closeWithGrace from 'close-with-grace';
import pretty from 'pino-pretty';
import { loadConfig, ConfigError } from '../config/load.js';
import { prepareRuntime, StartupError } from '../boot.js';
import { buildApp } from '../app.js';
import { startTracing, stopTracing } from '../tracing/setup.js';
import { ensureDevKeys } from './keys.js';
import { startDemoProviders, type DemoProviders } from './demo-providers.js';
import { DEMO_AGENT, DEMO_ALG } from './demo/identities.js';

const DEV_DIR = resolve('keys/dev');

/** Sign-in at the demo IdP (also the issuer of demo user tokens), the demo agent issuer, the demo CRM as provider `crm`, and one demo agent. */
function demoConfig(demo: DemoProviders) {
  const local = { allowPrivateNetwork: true };
  return {
    identity: {
      login: { issuer: demo.idp.issuer, clientId: demo.idp.clientId, clientSecretFile: demo.idp.clientSecretFile, ...local },
      subjectIssuers: [{ issuer: demo.idp.issuer, jwksUri: `${demo.idp.issuer}/jwks`, ...local }],
      actorIssuers: [{ issuer: demo.agents.issuer, jwksUri: demo.agents.jwksUri, algorithms: [DEMO_ALG], ...local }],
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
          'contacts.read': {
            description: 'Read your CRM contacts and accounts',
            scopes: ['contacts.read'],
            methods: ['GET'],
            paths: ['/contacts', '/contacts/*', '/accounts', '/accounts/*'],
          },
          'contacts.write': {
            description: 'Create and change your CRM contacts',
            scopes: ['contacts.write'],
            methods: ['POST', 'PATCH'],
            paths: ['/contacts', '/contacts/*'],
          },
          // The approval round trip of `npm run demo` (src/approvals/): each use waits for the user on /approvals.
          'contacts.write.approved': {
            description: 'Create CRM contacts, each one approved by you first',
            scopes: ['contacts.write'],
            methods: ['POST'],
            paths: ['/contacts'],
            approval: 'user',
          },
        },
      },
    },
    agents: { [DEMO_AGENT]: { displayName: 'Demo agent', operations: ['crm:contacts.read', 'crm:contacts.write', 'crm:contacts.write.approved'] } },
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
  // Dev only: one human-readable line per event; production logs stay JSON lines (src/http/logging.ts).
  const logStream = pretty({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname', singleLine: true });
  // As in production (src/main.ts): the standard OTEL_* variables turn tracing on, before the listeners exist.
  const tracing = await startTracing(process.env);
  const runtime = await prepareRuntime(config, { logStream });
  const app = await buildApp(config, { ...runtime, logStream });
  closeWithGrace({ delay: config.limits.shutdownGraceMs }, async () => {
    await app.close();
    await runtime.audit.flush();
    await runtime.stores.close();
    await runtime.archive?.close();
    await demo.stop();
    await stopTracing();
  });
  const { publicUrl, internalUrl, metricsUrl } = await app.listen();
  const rel = 'keys/dev';
  const internalPort = config.listeners.internal.port;
  // The demo CLI finds the vault by the same variables as dev mode.
  const env = port === 8443 && internalPort === 9443 ? [] : [`   export TOKEN_VAULT_PUBLIC_PORT=${port} TOKEN_VAULT_INTERNAL_PORT=${internalPort}`];
  const banner = [
    '',
    '  ==========================================================',
    '   TOKEN VAULT — DEVELOPMENT MODE. Not for real credentials.',
    '  ==========================================================',
    `   keys:      ${rel}/ ${created ? '(generated now)' : '(existing)'}`,
    `   store:     ${config.store.kind === 'redis' ? `redis (${config.store.redis.url})` : 'in-memory (data is lost on exit)'}`,
    `   public:    ${publicUrl}`,
    `   internal:  ${internalUrl}   (mTLS: client certificate required)`,
    `   metrics:   ${metricsUrl ? `${metricsUrl}/metrics` : 'off'}`,
    `   tracing:   ${tracing ? 'on (OTLP, from the OTEL_* variables)' : 'off (set OTEL_EXPORTER_OTLP_ENDPOINT to export traces)'}`,
    '',
    `   Demo: open ${vaultUrl}/connections (accept the dev certificate), sign in at the`,
    `   demo IdP (${demo.idp.issuer}) as alice / alice, link "Demo CRM", tick what the`,
    `   demo agent may do. Other users: bob / bob, admin / admin.`,
    '',
    '   Then be the gateway (another terminal, this directory; each step prints its curl line):',
    ...env,
    '   npm run demo -- tokens [--user alice] [--agent demo]',
    '   npm run demo -- exchange crm:contacts.read',
    '   npm run demo -- call crm:contacts.read GET /contacts',
    `   npm run demo -- call crm:contacts.write POST /contacts --data '{"firstName":"Test","lastName":"Person"}'`,
    `   npm run demo -- call crm:contacts.write.approved POST /contacts --data '{"firstName":"Ada","lastName":"Lovelace"}'   (you approve it on /approvals)`,
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
