import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../../src/store/audit-store.js';
import { runAdminCli } from '../../helpers/admin-cli.js';
import { startVault, type TestVault } from '../../helpers/vault.js';
import { trailEntries } from '../../helpers/audit-trail.js';
import { auditChainOf } from '../../../src/store/audit-store.js';

const AGENT = 'spiffe://corp.example/agent/a';

let vault: TestVault;

beforeAll(async () => {
  vault = await startVault();
});
afterAll(async () => {
  await vault?.close();
});

/** The CLI (run in-process, test/helpers/admin-cli.ts) against this file's vault. */
const cli = (args: string[], env: Record<string, string> = {}) => runAdminCli(vault, args, env);

describe('admin CLI against a running vault', () => {
  it('engages, lists and releases kill switches, with tables and --json', async () => {
    expect(await cli(['kills'])).toStrictEqual({ code: 0, stdout: 'no kill switch engaged (epoch 0)\n', stderr: '' });
    const engaged = await cli(['kill', 'agent', AGENT, '--reason', 'incident 42']);
    const engagedEpoch = Number(/\(epoch (\d+)\)/.exec(engaged.stdout)?.[1]);
    expect(engagedEpoch).toBeGreaterThan(0);
    expect(engaged).toStrictEqual({ code: 0, stdout: `engaged agent ${AGENT} (epoch ${engagedEpoch})\n`, stderr: '' });

    const listed = await cli(['kills']);
    const [header, row, epoch] = listed.stdout.trimEnd().split('\n');
    expect(header).toMatch(/^SCOPE\s+TARGET\s+REASON\s+ENGAGED AT\s+ENGAGED BY$/);
    expect(row).toMatch(new RegExp(`^agent\\s+${AGENT}\\s+incident 42\\s+\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z\\s+spiffe://dev.local/admin$`));
    expect(epoch).toBe(`(epoch ${engagedEpoch})`);

    const json = await cli(['kills', '--json']);
    const parsed = JSON.parse(json.stdout) as { switches: Array<{ engagedAt: number }> };
    expect(parsed).toStrictEqual({
      epoch: engagedEpoch,
      switches: [{ scope: 'agent', target: AGENT, reason: 'incident 42', engagedAt: parsed.switches[0]!.engagedAt, engagedBy: 'spiffe://dev.local/admin' }],
    });

    const released = await cli(['unkill', 'agent', AGENT]);
    const releasedEpoch = Number(/\(epoch (\d+)\)/.exec(released.stdout)?.[1]);
    expect(releasedEpoch).toBeGreaterThan(engagedEpoch);
    expect(released).toStrictEqual({ code: 0, stdout: `released agent ${AGENT} (epoch ${releasedEpoch})\n`, stderr: '' });
    expect(await cli(['unkill', 'agent', AGENT, '--json'])).toStrictEqual({
      code: 0,
      stdout: `{\n  "epoch": ${releasedEpoch},\n  "released": false\n}\n`,
      stderr: '',
    });
  }, 30_000);

  it('queries, verifies and exports the audit trail', async () => {
    const query = await cli(['audit', '--action', 'killswitch.engage']);
    expect(query.code).toBe(0);
    const lines = query.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^SEQ\s+TIME\s+ACTION\s+DECISION\s+ACTOR\s+AGENT\s+USER\s+PROVIDER\s+REASON$/);
    expect(lines[1]).toMatch(new RegExp(`^1\\s+\\S+Z\\s+killswitch.engage\\s+allow\\s+spiffe://dev.local/admin\\s+${AGENT}\\s+-\\s+-\\s+incident 42$`));

    const paged = await cli(['audit', '--limit', '1', '--json']);
    // Every record here is the admin's: one chain (src/store/audit-store.ts auditChainOf), whose position the cursor carries.
    const A = auditChainOf({ action: 'admin.action', actor: 'spiffe://dev.local/admin' }, 16);
    const page = JSON.parse(paged.stdout) as { items: unknown[]; next: string };
    expect(page).toMatchObject({ items: [{ chain: A, seq: 3, action: 'killswitch.release', reason: 'not_engaged' }] });
    expect(page.next.split('.').map(Number)).toStrictEqual(Array.from({ length: 16 }, (_, c) => (c === A ? 2 : 0)));

    const verify = await cli(['audit', 'verify']);
    const [summary, header, ...rows] = verify.stdout.trimEnd().split('\n');
    expect({ code: verify.code, summary, header, rows: rows.length, stderr: verify.stderr }).toStrictEqual({
      code: 0,
      summary: 'audit trail OK: 3 records verified in 16 chains',
      header: expect.stringMatching(/^CHAIN\s+STATUS\s+RECORDS\s+HEAD\s+TRIMMED TO\s+CHECKPOINT\s+AFTER CHECKPOINT$/),
      rows: 16,
      stderr: '',
    });
    // Checkpoints follow the writes within a second (src/audit/checkpointer.ts): which head was signed last depends on timing.
    const signed = new RegExp(`^${A}\\s+ok\\s+3\\s+3\\s+-\\s+(?:seq (\\d) \\(\\S+Z\\)|none yet)\\s+(\\d)$`).exec(rows[A]!);
    expect(Number(signed?.[1] ?? 0) + Number(signed?.[2])).toBe(3);
    expect(rows.filter((_, c) => c !== A).every((r) => /^\d+\s+ok\s+0\s+-\s+-\s+none yet\s+0$/.test(r))).toBe(true);

    const exported = await cli(['audit', 'export']);
    expect(exported.code).toBe(0);
    const entries = exported.stdout
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as AuditEntry);
    expect(entries).toStrictEqual(await trailEntries(vault.runtime.stores.audit));
    expect(entries.map((e) => [e.chain, e.seq])).toStrictEqual([1, 2, 3, 4, 5].map((seq) => [A, seq]));
  }, 30_000);

  it('shows keys and runs a rewrap batch', async () => {
    const kid = vault.runtime.keys.signingKeys.active.kid;
    const keys = await cli(['keys']);
    expect(keys).toStrictEqual({
      code: 0,
      stdout: [
        'sealed:           no',
        'KEKs:             1 (active 1)',
        `signing key:      ${kid}`,
        'previous signing: -',
        'rewrap:           never run',
        '',
      ].join('\n'),
      stderr: '',
    });
    const rewrap = await cli(['keys', 'rewrap', '--json']);
    expect(JSON.parse(rewrap.stdout)).toMatchObject({ activeKeyId: '1', done: true, scanned: 0, failed: [] });
  }, 30_000);

  it('exits non-zero with the error code on refusals and misuse', async () => {
    expect(await cli(['kill', 'planet', 'x', '--reason', 'r'])).toStrictEqual({
      code: 1,
      stdout: '',
      stderr:
        'error: invalid_request (HTTP 400): The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.\n',
    });
    const gateway = await cli(['kills'], {
      TOKEN_VAULT_ADMIN_CERT: join(vault.pki.dir, 'gateway.crt'),
      TOKEN_VAULT_ADMIN_KEY: join(vault.pki.dir, 'gateway.key'),
    });
    expect(gateway).toStrictEqual({ code: 1, stdout: '', stderr: 'error: invalid_client (HTTP 401): Client authentication failed.\n' });
    const down = await cli(['kills'], { TOKEN_VAULT_ADMIN_URL: 'https://127.0.0.1:1' });
    expect(down).toStrictEqual({ code: 1, stdout: '', stderr: 'error: network: ECONNREFUSED connecting to https://127.0.0.1:1\n' });
    const usage = await cli(['kill', 'agent', AGENT]);
    expect(usage.code).toBe(2);
    expect(usage.stderr.split('\n')[0]).toBe('error: usage: --reason is required');
    expect((await cli(['frobnicate'])).code).toBe(2);
    expect((await cli(['kills', '--colour'])).code).toBe(2);
    // Nothing the refused calls sent changed the switches (the first test released the only one).
    expect((await vault.runtime.stores.killSwitches.snapshot()).switches).toStrictEqual([]);
  }, 30_000);
});
