/**
 * A vault in its own process, for tests that need two replicas sharing Redis.
 * Usage: node --import tsx test/helpers/vault-process.ts <config.json>
 * Prints `{"publicUrl","internalUrl"}` as the first stdout line; logs go to stderr.
 * SIGTERM closes it.
 */
import { buildApp } from '../../src/app.js';
import { prepareRuntime } from '../../src/boot.js';
import { loadConfig } from '../../src/config/load.js';

const config = loadConfig({ TOKEN_VAULT_CONFIG: process.argv[2] });
// Logs (the archive warning at start included) go to stderr: stdout's first line is the URLs.
const runtime = await prepareRuntime(config, { logStream: process.stderr });
const app = await buildApp(config, { ...runtime, logStream: process.stderr });
const urls = await app.listen();
process.stdout.write(`${JSON.stringify(urls)}\n`);
process.once('SIGTERM', () => {
  void app
    .close()
    .then(() => runtime.stores.close())
    .finally(() => process.exit(0));
});
