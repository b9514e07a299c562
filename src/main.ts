#!/usr/bin/env node
/**
 * Production entry point: loadConfig() -> prepareRuntime() -> buildApp() -> listen(),
 * with graceful shutdown. Nothing else lives here.
 */
import closeWithGrace from 'close-with-grace';
import { loadConfig, ConfigError } from './config/load.js';
import { prepareRuntime, StartupError } from './boot.js';
import { buildApp } from './app.js';
import { startTracing, stopTracing } from './tracing/setup.js';

async function main(): Promise<void> {
  const config = loadConfig();
  // Before the listeners are built: they register the request-span plugin only if tracing is on.
  await startTracing(process.env);
  const runtime = await prepareRuntime(config);
  const app = await buildApp(config, runtime);
  closeWithGrace({ delay: config.limits.shutdownGraceMs }, async ({ signal, err }) => {
    const started = performance.now();
    if (err) app.internal.log.error({ err: { type: err.name } }, 'shutting down after an uncaught error');
    else app.internal.log.info({ signal }, 'shutting down');
    // Stops accepting and closes idle keep-alive connections at once; resolves when the requests
    // in flight have been answered. Then the records still queued (a request's own are already
    // durable: audit before answer) reach the store before it closes.
    await app.close();
    await runtime.audit.flush();
    await runtime.stores.close();
    await runtime.archive?.close();
    app.internal.log.info({ durationMs: Math.round(performance.now() - started) }, 'shut down');
    await stopTracing();
  });
  const urls = await app.listen();
  app.internal.log.info({ ...urls, mode: config.mode }, 'token vault listening');
}

main().catch((err: unknown) => {
  // Startup problems are listed one per line and name files, never key bytes.
  if (err instanceof ConfigError || err instanceof StartupError) process.stderr.write(`token-vault: ${err.message}\n`);
  else process.stderr.write(`token-vault: failed to start (${err instanceof Error ? err.name : 'unknown error'})\n`);
  process.exit(1);
});
