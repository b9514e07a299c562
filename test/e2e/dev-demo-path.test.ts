/**
 * The whole gateway path of `npm run dev`, as a newcomer walks it: dev mode
 * started in an empty directory (a fresh clone), sign-in, linking and consent
 * in headless Chromium, then `npm run demo` processes acting as the gateway
 * with the dev gateway certificate: an exchange and a /forward to the demo
 * CRM, a `consent_required` with its deep link, and a write once the user
 * consented to it. Prints the time from starting dev mode to the first
 * forwarded call. Screenshots, the demo's transcripts and dev mode's output go
 * to test-output/e2e-dev-path/.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { approveDeepLink, consentDemoAgent, signInAndLinkCrm } from '../helpers/dev-browser.js';
import { lastDemoAnswer, runDemo, startDevProcess, type DevProcess } from '../helpers/dev-process.js';

const OUT = join(process.cwd(), 'test-output', 'e2e-dev-path');
const DEMO_AGENT = 'spiffe://dev.local/agents/demo';

let cwd: string;
let dev: DevProcess;
let browser: Browser;
let base: string;
let startedAt: number;

beforeAll(async () => {
  await mkdir(OUT, { recursive: true });
  browser = await launchChromium();
  cwd = await mkdtemp(join(tmpdir(), 'tv-dev-path-'));
  startedAt = performance.now();
  dev = await startDevProcess(cwd);
  base = `https://127.0.0.1:${dev.ports.public}`;
}, 90_000);
afterAll(async () => {
  await browser?.close();
  await dev?.stop();
  await rm(cwd, { recursive: true, force: true });
});

let runs = 0;
/** One `npm run demo` run; its transcript is kept for reading. */
async function demo(...args: string[]) {
  const run = await runDemo(cwd, dev.ports, args);
  await writeFile(join(OUT, `demo-${++runs}-${args[0]}.txt`), `$ npm run demo -- ${args.join(' ')}\n${run.stdout}${run.stderr}`);
  return run;
}

describe('npm run dev + npm run demo: the whole gateway path', () => {
  it('signs in, links, consents, and lets the demo gateway read and then write CRM contacts through /forward', async () => {
    expect(dev.output()).toContain('npm run demo -- call crm:contacts.read GET /contacts');
    expect(dev.output()).toMatch(/Server listening at https:\/\/127\.0\.0\.1:\d+/);
    expect(dev.output()).not.toContain('Server listening at http://');

    const context = await browser.newContext({ ignoreHTTPSErrors: true });
    const page = await context.newPage();
    await signInAndLinkCrm(page, base);
    expect(await consentDemoAgent(page, base, /Read your CRM contacts/)).toBe(true);
    await page.screenshot({ path: join(OUT, '01-read-consented.png'), fullPage: true });

    const read = await demo('call', 'crm:contacts.read', 'GET', '/contacts');
    const firstForwardMs = performance.now() - startedAt;
    expect(read.stderr).toBe('');
    expect(read.code).toBe(0);
    expect(read.stdout).toContain('curl --cert keys/dev/gateway.crt --key keys/dev/gateway.key --cacert keys/dev/ca.crt');
    expect(read.stdout).toContain(`/forward/crm/contacts`);
    const contacts = lastDemoAnswer(read.stdout) as { authenticatedAs: unknown; total: number; contacts: { lastName: string }[] };
    expect(contacts.authenticatedAs).toStrictEqual({ user: 'alice', client: 'token-vault-dev', scope: expect.stringContaining('contacts.read') });
    expect(contacts.total).toBe(5);
    expect(contacts.contacts.map((c) => c.lastName)).toStrictEqual(['Placeholder', 'Mockley', 'Sample', 'Testwell', 'Dummett']);
    process.stdout.write(
      `\n  dev demo path: ${(firstForwardMs / 1000).toFixed(1)} s from starting npm run dev in an empty directory to the first forwarded call\n\n`,
    );

    const refused = await demo('exchange', 'crm:contacts.write');
    expect(refused.code).toBe(0);
    const deepLink = `${base}/connections/crm?agent=${encodeURIComponent(DEMO_AGENT)}&operation=${encodeURIComponent('crm:contacts.write')}`;
    expect(lastDemoAnswer(refused.stdout)).toStrictEqual({
      error: 'consent_required',
      error_description: 'operation is not consented for this agent',
      error_uri: deepLink,
      // The vault's id for this request (also its x-request-id header, log lines and audit record).
      request_id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/),
    });
    expect(refused.stdout).toContain(`Open this link in the browser`);
    expect(refused.stdout).toContain(`\n    ${deepLink}\n`);

    expect(await approveDeepLink(page, base, deepLink, /Create and change your CRM contacts/)).toBe(true);
    await page.screenshot({ path: join(OUT, '02-write-consented.png'), fullPage: true });

    const data = JSON.stringify({ firstName: 'Test', lastName: 'Person', email: 'test.person@example.com', accountId: 'acc-102' });
    const write = await demo('call', 'crm:contacts.write', 'POST', '/contacts', '--data', data);
    expect(write.code).toBe(0);
    expect(write.stdout).toContain('< HTTP/1.1 201 Created');
    expect(write.stdout).toContain(`--data '${data}'`);
    expect(lastDemoAnswer(write.stdout)).toStrictEqual({
      authenticatedAs: { user: 'alice', client: 'token-vault-dev', scope: expect.stringContaining('contacts.write') },
      contact: {
        id: '6',
        firstName: 'Test',
        lastName: 'Person',
        email: 'test.person@example.com',
        phone: null,
        title: null,
        accountId: 'acc-102',
        owner: 'alice',
        createdAt: expect.any(String),
        updatedAt: expect.any(String),
      },
    });

    const again = await demo('call', 'crm:contacts.read', 'GET', '/contacts/6');
    expect(again.code).toBe(0);
    expect((lastDemoAnswer(again.stdout) as { contact: { lastName: string } }).contact.lastName).toBe('Person');

    // The approval round trip: the demo asks, binds the exact request, polls; alice approves it on /approvals.
    const gated = 'crm:contacts.write.approved';
    const gatedLink = `${base}/connections/crm?agent=${encodeURIComponent(DEMO_AGENT)}&operation=${encodeURIComponent(gated)}`;
    expect(await approveDeepLink(page, base, gatedLink, /each one approved by you first/)).toBe(true);
    const ada = JSON.stringify({ firstName: 'Ada', lastName: 'Lovelace' });
    const asking = runDemo(cwd, dev.ports, ['call', gated, 'POST', '/contacts', '--data', ada]);
    const waiting = page.locator('li.approval');
    for (let i = 0; i < 120 && (await waiting.count()) === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 500));
      await page.goto(`${base}/approvals`);
    }
    expect(await waiting.locator('.action').textContent()).toBe('POST /contacts');
    await page.screenshot({ path: join(OUT, '03-approval-waiting.png'), fullPage: true });
    await waiting.getByRole('button', { name: 'Approve' }).click();
    await page.waitForURL(`${base}/approvals?result=approved`);
    const approved = await asking;
    await writeFile(join(OUT, `demo-${++runs}-approved-call.txt`), `${approved.stdout}${approved.stderr}`);
    expect(approved.code).toBe(0);
    expect(approved.stdout).toContain('"error": "authorization_pending"');
    expect(approved.stdout).toContain(`${base}/approvals`);
    expect(approved.stdout).toContain('< HTTP/1.1 201 Created');
    expect((lastDemoAnswer(approved.stdout) as { contact: { lastName: string } }).contact.lastName).toBe('Lovelace');

    const tokens = await demo('tokens', '--user', 'bob');
    expect(tokens.code).toBe(0);
    expect(tokens.stdout).toMatch(/export USER_TOKEN=eyJ[\w-]+\.[\w-]+\.[\w-]+\n/);
    expect(tokens.stdout).toMatch(/export AGENT_TOKEN=eyJ[\w-]+\.[\w-]+\.[\w-]+\n/);
    await context.close();
    await writeFile(join(OUT, 'dev-output.txt'), dev.output());
  }, 240_000);
});
