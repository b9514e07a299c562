/**
 * `npm run dev`: the whole vault on one machine with no setup. Generates
 * development keys and certificates under keys/dev/ when missing, uses the
 * in-memory store (or Redis when REDIS_URL is set), and prints how to call it.
 * Never used in production: the Dockerfile runs dist/main.js.
 */
import { resolve } from 'node:path';
import closeWithGrace from 'close-with-grace';
import { loadConfig, ConfigError } from './config/load.js';
import { prepareRuntime, StartupError } from './boot.js';
import { buildApp } from './app.js';
import { ensureDevKeys } from './crypto/dev-keys.js';

const DEV_DIR = resolve('keys/dev');

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
  const config = loadConfig(process.env, devDefaults(DEV_DIR));
  if (config.mode !== 'dev') throw new ConfigError(['mode: npm run dev only runs in dev mode']);
  const runtime = await prepareRuntime(config);
  const app = await buildApp(config, runtime);
  closeWithGrace({ delay: config.limits.shutdownGraceMs }, async () => {
    await app.close();
    await runtime.stores.close();
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
