/** Builds the app with throwaway material and renders openapi.yaml (script and sync test share this). */
import { rm } from 'node:fs/promises';
import { buildApp } from '../../src/app.js';
import { prepareRuntime } from '../../src/boot.js';
import { loadConfig } from '../../src/config/load.js';
import { openapiYaml } from '../../src/http/openapi.js';
import { createTestPki, testConfigDefaults } from './vault.js';

export async function renderOpenApi(): Promise<string> {
  const pki = await createTestPki();
  try {
    const config = loadConfig({}, { ...testConfigDefaults(pki.dir), log: { level: 'silent' } });
    const runtime = await prepareRuntime(config);
    const app = await buildApp(config, runtime);
    const yaml = openapiYaml(app);
    await app.close();
    await runtime.stores.close();
    return yaml;
  } finally {
    await rm(pki.dir, { recursive: true, force: true });
  }
}
