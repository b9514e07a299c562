/**
 * The consent pages' end-to-end set-up: a linking vault and headless Chromium, started
 * together before a file's tests and closed after them; screenshots go to OUT
 * (every step) and SCREENSHOTS (the pages worth a look).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import { launchChromium } from './chromium.js';
import { startLinkingVault, type LinkingVault, type LinkingVaultOptions } from './linking-vault.js';

export const OUT = join(process.cwd(), 'test-output', 'e2e');
/** Screenshots a person looks at to check the pages render sensibly (gitignored). */
export const SCREENSHOTS = join(process.cwd(), 'test-output', 'screenshots');

export interface ConsentE2e {
  lv: LinkingVault;
  browser: Browser;
}

/** Registers the hooks; the returned object is filled in once beforeAll has run. */
export function useConsentE2e(options: LinkingVaultOptions = {}): ConsentE2e {
  const world = {} as ConsentE2e;
  beforeAll(async () => {
    await Promise.all([mkdir(OUT, { recursive: true }), mkdir(SCREENSHOTS, { recursive: true })]);
    [world.lv, world.browser] = await Promise.all([startLinkingVault(options), launchChromium()]);
  });
  afterAll(async () => {
    await world.browser?.close();
    await world.lv?.close();
  });
  return world;
}
