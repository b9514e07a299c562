/**
 * Starts a real vault (both HTTPS listeners on free loopback ports) with a
 * freshly generated PKI and key material in a temp dir, memory or Redis store.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp, type VaultApp } from '../../src/app.js';
import { prepareRuntime, type Runtime } from '../../src/boot.js';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { ensureDevKeys } from '../../src/dev/keys.js';
import { LogCapture } from './log-capture.js';
import type { ClientCert } from './https-client.js';
import type { AuditWriter } from '../../src/audit/events.js';

export interface TestPki {
  dir: string;
  ca: string;
  gateway: ClientCert;
  admin: ClientCert;
  other: ClientCert;
}

export async function createTestPki(): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), 'tv-pki-'));
  await ensureDevKeys(dir);
  const pair = async (name: string): Promise<ClientCert> => ({
    cert: await readFile(join(dir, `${name}.crt`), 'utf8'),
    key: await readFile(join(dir, `${name}.key`), 'utf8'),
  });
  return {
    dir,
    ca: await readFile(join(dir, 'ca.crt'), 'utf8'),
    gateway: await pair('gateway'),
    admin: await pair('admin'),
    other: await pair('other'),
  };
}

export interface TestVault {
  app: VaultApp;
  config: Config;
  /** The raw config values the vault was loaded from (to boot a second vault process alike). */
  rawConfig: Record<string, unknown>;
  runtime: Runtime;
  pki: TestPki;
  logs: LogCapture;
  publicUrl: string;
  internalUrl: string;
  /** Base URL of the plain-HTTP metrics listener (absent when `listeners.metrics.enabled` is false). */
  metricsUrl?: string | undefined;
  close(): Promise<void>;
}

export interface StartOptions {
  pki?: TestPki;
  redisUrl?: string;
  /** Raw config values merged over the test defaults. */
  overrides?: Record<string, unknown>;
  /** Replaces the app's audit writer (e.g. one that can be made to fail). */
  audit?: (runtime: Runtime) => AuditWriter;
}

export function testConfigDefaults(dir: string, redisUrl?: string): Record<string, unknown> {
  return {
    mode: 'dev',
    publicUrl: 'https://127.0.0.1:8443',
    listeners: { public: { host: '127.0.0.1', port: 0 }, internal: { host: '127.0.0.1', port: 0 }, metrics: { host: '127.0.0.1', port: 0 } },
    tls: { cert: join(dir, 'server.crt'), key: join(dir, 'server.key'), gatewayCa: join(dir, 'ca.crt') },
    gateways: { allow: ['spiffe://dev.local/gateway'] },
    admins: { allow: ['spiffe://dev.local/admin'] },
    keys: { dir },
    store: redisUrl ? { kind: 'redis', redis: { url: redisUrl } } : { kind: 'memory' },
    log: { level: 'info' },
  };
}

export async function startVault(options: StartOptions = {}): Promise<TestVault> {
  const ownPki = !options.pki;
  const pki = options.pki ?? (await createTestPki());
  const defaults = testConfigDefaults(pki.dir, options.redisUrl);
  const rawConfig = { ...defaults, ...(options.overrides ?? {}) };
  const config = loadConfig({}, rawConfig);
  const logs = new LogCapture();
  const runtime = await prepareRuntime(config, { logStream: logs });
  // Dev mode connects to Redis in the background; tests start from a connected store.
  if (config.store.kind === 'redis') await waitForStore(runtime);
  const app = await buildApp(config, { ...runtime, logStream: logs, ...(options.audit ? { audit: options.audit(runtime) } : {}) });
  const { publicUrl, internalUrl, metricsUrl } = await app.listen();
  return {
    app,
    config,
    rawConfig,
    runtime,
    pki,
    logs,
    publicUrl,
    internalUrl,
    metricsUrl,
    async close() {
      await app.close();
      await runtime.stores.close();
      await runtime.archive?.close();
      if (ownPki) await rm(pki.dir, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

async function waitForStore(runtime: Runtime): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await runtime.stores.ping();
      return;
    } catch (err) {
      if (i >= 200) throw err;
      await new Promise((r) => setTimeout(r, 25));
    }
  }
}
