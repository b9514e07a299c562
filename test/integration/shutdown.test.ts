/**
 * SIGTERM on the production entry point (src/main.ts) in a real child process: it stops
 * accepting, closes idle keep-alive connections at once, lets requests in flight finish, flushes
 * the audit writer and exits 0 as soon as that is done, well within limits.shutdownGraceMs.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { Agent } from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_A, exchangeParams } from '../helpers/exchange-fixture.js';
import { startForwardWorld, type ForwardWorld } from '../helpers/forward-fixture.js';
import { call } from '../helpers/https-client.js';

let w: ForwardWorld;

beforeAll(async () => {
  w = await startForwardWorld();
});
afterAll(() => w?.close());

interface Child {
  internalUrl: string;
  output(): string;
  /** Resolves with the exit code and when the process exited (performance.now()). */
  exited: Promise<{ code: number | null; at: number }>;
  process: ChildProcess;
}

/** `node --import tsx src/main.ts` with the world's config (same Redis, keys and providers), resolved once it listens. */
async function startMain(name: string): Promise<Child> {
  const file = join(w.vault.pki.dir, `${name}.json`);
  await writeFile(file, JSON.stringify(w.vault.rawConfig), { mode: 0o600 });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', TOKEN_VAULT_CONFIG: file },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: performance.now() })));
  const internalUrl = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`vault did not start:\n${output}`)), 60_000);
    child.stdout!.on('data', (c: Buffer) => {
      output += c.toString();
      const line = output.split('\n').find((l) => l.includes('token vault listening'));
      if (line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { internalUrl: string }).internalUrl);
      }
    });
    child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
    void exited.then(({ code }) => reject(new Error(`vault exited with ${code}:\n${output}`)));
  });
  return { internalUrl, output: () => output, exited, process: child };
}

describe('shutdown on SIGTERM', () => {
  it('exits 0 at once with an idle keep-alive connection open', { timeout: 120_000 }, async () => {
    const vault = await startMain('idle');
    const agent = new Agent({ keepAlive: true, ca: w.vault.pki.ca, cert: w.vault.pki.gateway.cert, key: w.vault.pki.gateway.key });
    try {
      const res = await call(`${vault.internalUrl}/healthz`, { ca: w.vault.pki.ca, client: w.vault.pki.gateway, agent });
      expect(res.status).toBe(200);
      expect(Object.keys(agent.freeSockets)).toHaveLength(1);
      const signalled = performance.now();
      vault.process.kill('SIGTERM');
      const { code, at } = await vault.exited;
      expect(code).toBe(0);
      console.log(`idle keep-alive: exited ${Math.round(at - signalled)} ms after SIGTERM`);
      expect(at - signalled).toBeLessThan(1_000);
      expect(vault.output()).not.toContain('killed by timeout');
      expect(vault.output()).toContain('shutting down');
    } finally {
      agent.destroy();
      vault.process.kill('SIGKILL');
    }
  });

  it('lets an exchange in flight (a slow upstream refresh) finish with 200 and its audit record, then exits 0', { timeout: 120_000 }, async () => {
    const vault = await startMain('busy');
    const SLOW_MS = 1_500;
    // Kept alive: the connection of a request in flight must not hold the shutdown open afterwards.
    const agent = new Agent({ keepAlive: true, ca: w.vault.pki.ca, cert: w.vault.pki.gateway.cert, key: w.vault.pki.gateway.key });
    try {
      await w.vault.runtime.stores.tokens.dropAccessToken(w.grant.id);
      w.oauth.setSlowTokenEndpoint(SLOW_MS);
      const before = w.oauth.tokenRequests;
      const requestId = 'shutdown-busy-1';
      const params = new URLSearchParams(await exchangeParams(w.vault.ids, 'alice', AGENT_A, { scope: 'crm:records.read' })).toString();
      const answer = call(`${vault.internalUrl}/exchange`, {
        method: 'POST',
        ca: w.vault.pki.ca,
        client: w.vault.pki.gateway,
        agent,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-request-id': requestId },
        body: params,
      });
      await expect.poll(() => w.oauth.tokenRequests, { timeout: 10_000 }).toBeGreaterThan(before);
      const signalled = performance.now();
      vault.process.kill('SIGTERM');
      const res = await answer;
      const answeredAt = performance.now();
      expect(res.status).toBe(200);
      expect(res.json()).toMatchObject({ token_type: 'Bearer', scope: 'crm:records.read' });
      expect(res.headers['connection']).toBe('close');
      const { code, at } = await vault.exited;
      expect(code).toBe(0);
      // Done as soon as the work in flight is (by the child's own clock: on a loaded machine the
      // parent may see the exit later), well within limits.shutdownGraceMs (10 s).
      const done = vault
        .output()
        .split('\n')
        .find((l) => l.includes('"msg":"shut down"'));
      const { durationMs } = JSON.parse(done!) as { durationMs: number };
      console.log(
        `answered ${Math.round(answeredAt - signalled)} ms after SIGTERM; shut down in ${durationMs} ms; exit seen after ${Math.round(at - signalled)} ms`,
      );
      expect(durationMs).toBeLessThan(answeredAt - signalled + 1_000);
      expect(at - signalled).toBeLessThan(10_000);
      expect(vault.output()).not.toContain('killed by timeout');
      const records = (await w.vault.auditRecords()).filter((r) => r.requestId === requestId);
      expect(records.map((r) => [r.action, r.decision])).toStrictEqual([['token.exchange', 'allow']]);
    } finally {
      agent.destroy();
      w.oauth.setSlowTokenEndpoint(0);
      vault.process.kill('SIGKILL');
    }
  });
});
