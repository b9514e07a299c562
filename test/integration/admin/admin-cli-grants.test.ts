/**
 * The admin CLI's grant commands, run in-process (test/helpers/admin-cli.ts) with the real admin
 * client certificate against a running vault whose grants were linked through
 * real oidc-provider fakes: list/search/page (tables and --json, never a
 * secret), revoke one, bulk revoke with its report, and refusals.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Grant } from '../../../src/store/grant-store.js';
import { runAdminCli } from '../../helpers/admin-cli.js';
import { grantView, onlyGrant } from '../../helpers/admin-grants.js';
import { SALES_AGENT, linkAliceAndBob, startLinkingVault, SUPPORT_AGENT, type LinkingVault } from '../../helpers/linking-vault.js';
import { trailRecords } from '../../helpers/audit-trail.js';

let lv: LinkingVault;
let aliceSf: Grant;
let aliceSn: Grant;
let bobSf: Grant;
/** Every refresh token in plaintext and as stored: none may ever reach the CLI's output. */
const secrets: string[] = [];

const cli = (args: string[], env: Record<string, string> = {}) => runAdminCli(lv.vault, args, env);

const one = (login: string, provider: string) => onlyGrant(lv, login, provider);
const view = grantView;

/** One table row: the cells separated by at least two spaces. */
const row = (...cells: string[]) => new RegExp(`^${cells.map((c) => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('\\s{2,}')}$`);
const iso = (ms: number) => new Date(ms).toISOString();

function expectNoSecret(output: string): void {
  for (const secret of secrets) expect(output).not.toContain(secret);
  expect(output).not.toContain('refreshToken');
}

beforeAll(async () => {
  lv = await startLinkingVault();
  await linkAliceAndBob(lv);
  const { grants } = lv.vault.runtime.stores;
  await grants.setConsent((await one('alice', 'salesforce')).id, SALES_AGENT, ['salesforce:records.read']);
  await grants.setConsent((await one('alice', 'salesforce')).id, SUPPORT_AGENT, ['salesforce:records.read']);
  await grants.setConsent((await one('bob', 'salesforce')).id, SUPPORT_AGENT, ['salesforce:records.read']);
  aliceSf = await one('alice', 'salesforce');
  aliceSn = await one('alice', 'servicenow');
  bobSf = await one('bob', 'salesforce');
  for (const g of [aliceSf, aliceSn, bobSf]) secrets.push(g.refreshToken, lv.refreshTokenOf(g));
}, 60_000);
afterAll(async () => {
  await lv?.close();
});

describe('admin CLI grant commands against a running vault', () => {
  it('lists grants as a table and as JSON, never printing a secret', async () => {
    const all = [aliceSf, aliceSn, bobSf].sort((a, b) => (a.id < b.id ? -1 : 1));
    const listed = await cli(['grants']);
    expect({ code: listed.code, stderr: listed.stderr }).toStrictEqual({ code: 0, stderr: '' });
    const lines = listed.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+USER\s+PROVIDER\s+STATUS\s+AGENTS\s+UPDATED$/);
    expect(lines.slice(1)).toHaveLength(3);
    all.forEach((g, i) => {
      const agents = Object.keys(g.consent).sort().join(',') || '-';
      expect(lines[i + 1]).toMatch(row(g.id, g.userId, g.provider, 'active', agents, iso(g.updatedAt)));
    });
    expectNoSecret(listed.stdout);

    const json = await cli(['grants', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toStrictEqual({ items: all.map(view) });
    expectNoSecret(json.stdout);
  });

  it('searches by user, agent, provider and status, and pages with a cursor', async () => {
    const byUser = await cli(['grants', '--user', aliceSf.userId, '--provider', 'salesforce', '--json']);
    expect(JSON.parse(byUser.stdout)).toStrictEqual({ items: [view(aliceSf)] });
    const byAgent = await cli(['grants', '--agent', SUPPORT_AGENT, '--json']);
    expect(JSON.parse(byAgent.stdout)).toStrictEqual({ items: [aliceSf, bobSf].sort((a, b) => (a.id < b.id ? -1 : 1)).map(view) });
    expect(await cli(['grants', '--status', 'revoked'])).toStrictEqual({ code: 0, stdout: 'no grants match\n', stderr: '' });

    const first = await cli(['grants', '--limit', '2']);
    const cursorLine = first.stdout.trimEnd().split('\n').pop()!;
    expect(cursorLine).toMatch(/^more: --cursor [A-Za-z0-9_-]+$/);
    const cursor = cursorLine.slice('more: --cursor '.length);
    const firstJson = JSON.parse((await cli(['grants', '--limit', '2', '--json'])).stdout) as { items: Array<{ id: string }>; next: string };
    expect(firstJson.next).toBe(cursor);
    const second = JSON.parse((await cli(['grants', '--limit', '2', '--cursor', cursor, '--json'])).stdout) as { items: Array<{ id: string }> };
    expect([...firstJson.items, ...second.items].map((g) => g.id)).toStrictEqual([aliceSf.id, aliceSn.id, bobSf.id].sort());
    expect(second).toStrictEqual({ items: [expect.objectContaining({ id: expect.any(String) })] });
  });

  it('revokes one grant: upstream revoked, record gone, listed as revoked; a repeated id gets the same answer, an unknown one 404', async () => {
    const upstreamGrant = await lv.servicenow.grantIdOf(lv.refreshTokenOf(aliceSn));
    expect(await lv.servicenow.grantExists(upstreamGrant!)).toBe(true);
    const answer = (id: string) => ({ code: 0, stdout: `revoked grant ${id} (an already revoked grant gets the same answer)\n`, stderr: '' });
    expect(await cli(['revoke', aliceSn.id, '--reason', 'incident 9'])).toStrictEqual(answer(aliceSn.id));
    expect(await lv.vault.runtime.stores.grants.get(aliceSn.id)).toBeNull();
    expect(await lv.servicenow.grantExists(upstreamGrant!)).toBe(false);
    const audited = await trailRecords(lv.vault.runtime.stores.audit);
    expect(audited).toContainEqual(
      expect.objectContaining({ action: 'grant.revoke', actor: 'spiffe://dev.local/admin', grant: aliceSn.id, reason: 'incident 9' }),
    );

    // Listed as a tombstone (no secret) for the retention window.
    const revoked = await cli(['grants', '--status', 'revoked']);
    expect(revoked.code).toBe(0);
    const lines = revoked.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[1]!.split(/\s{2,}/).slice(0, 5)).toStrictEqual([aliceSn.id, aliceSn.userId, 'servicenow', 'revoked', 'revoked by spiffe://dev.local/admin']);
    expect(JSON.parse((await cli(['grants', '--status', 'revoked', '--json'])).stdout)).toStrictEqual({
      items: [expect.objectContaining({ id: aliceSn.id, status: 'revoked', tombstone: true, reason: 'incident 9', revokedBy: 'spiffe://dev.local/admin' })],
    });
    expectNoSecret(revoked.stdout);

    const before = await lv.allGrants();
    expect(await cli(['revoke', aliceSn.id, '--reason', 'again'])).toStrictEqual(answer(aliceSn.id));
    expect(await cli(['revoke', 'no-such-grant', '--reason', 'again', '--json'])).toStrictEqual({
      code: 1,
      stdout: '',
      stderr: 'error: not_found (HTTP 404): The requested resource does not exist.\n',
    });
    expect(await lv.allGrants()).toStrictEqual(before);
  });

  it('bulk revokes by agent and prints the report, counting upstream failures', async () => {
    await lv.stopFake('salesforce');
    const res = await cli(['revoke', '--agent', SUPPORT_AGENT, '--reason', 'agent compromised']);
    expect(res).toStrictEqual({
      code: 0,
      stdout: [
        `revoked every grant of agent ${SUPPORT_AGENT}`,
        'REVOKED  UPSTREAM REVOKED  UPSTREAM FAILED',
        '2        0                 2',
        '(upstream revocations that failed are retried by the vault)',
        '',
      ].join('\n'),
      stderr: '',
    });
    for (const g of [aliceSf, bobSf]) expect((await lv.vault.runtime.stores.grants.get(g.id))?.status).toBe('revoked');
    expect((await lv.vault.runtime.stores.revocations.list()).map((q) => q.grantId).sort()).toStrictEqual([aliceSf.id, bobSf.id].sort());

    const again = await cli(['revoke', '--agent', SUPPORT_AGENT, '--reason', 'again', '--json']);
    expect(JSON.parse(again.stdout)).toStrictEqual({ revoked: 0, upstream_revoked: 0, upstream_failed: 0 });
    expect(await cli(['grants', '--status', 'active'])).toStrictEqual({ code: 0, stdout: 'no grants match\n', stderr: '' });
  });

  it('bulk revokes by user with the provider up: upstream_revoked counted, an already revoked grant not again', async () => {
    const bob = await lv.signIn('bob');
    await lv.link(bob, 'servicenow', 'bob');
    const grant = await one('bob', 'servicenow');
    const res = await cli(['revoke', '--user', grant.userId, '--reason', 'offboarding', '--json']);
    expect(res).toStrictEqual({ code: 0, stdout: '{\n  "revoked": 1,\n  "upstream_revoked": 1,\n  "upstream_failed": 0\n}\n', stderr: '' });
    expect(await lv.vault.runtime.stores.grants.get(grant.id)).toBeNull();
  });

  it('refuses misuse with exit 2 and API refusals with exit 1, changing nothing', async () => {
    const before = await lv.allGrants();
    const auditHead = await lv.vault.runtime.stores.audit.heads();
    const usage = async (args: string[], message: string) => {
      const res = await cli(args);
      expect({ args, code: res.code, stdout: res.stdout, first: res.stderr.split('\n')[0] }).toStrictEqual({
        args,
        code: 2,
        stdout: '',
        first: `error: usage: ${message}`,
      });
    };
    await usage(['revoke', 'g-1'], '--reason is required');
    await usage(['revoke', 'g-1', '--reason', '   '], '--reason is required');
    await usage(['revoke', '--reason', 'r'], 'revoke needs a grant id or exactly one of --user, --agent, --provider');
    await usage(['revoke', '--user', 'u', '--agent', 'a', '--reason', 'r'], 'revoke needs a grant id or exactly one of --user, --agent, --provider');
    await usage(['revoke', 'g-1', '--provider', 'salesforce', '--reason', 'r'], 'give a grant id or one of --user, --agent, --provider, not both');
    await usage(['revoke', 'g-1', 'g-2', '--reason', 'r'], 'revoke takes one grant id');
    await usage(['grants', '--status', 'gone'], '--status must be one of active, consent_required, integrity_error, revoked');
    await usage(['grants', '--limit', 'ten'], '--limit must be a positive integer');
    await usage(['grants', 'extra'], 'grants takes no arguments');

    const invalid =
      'error: invalid_request (HTTP 400): The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.\n';
    expect(await cli(['grants', '--limit', '100000'])).toStrictEqual({ code: 1, stdout: '', stderr: invalid });
    expect(await cli(['grants', '--user', 'has space'])).toStrictEqual({ code: 1, stdout: '', stderr: invalid });
    const gateway = { TOKEN_VAULT_ADMIN_CERT: join(lv.vault.pki.dir, 'gateway.crt'), TOKEN_VAULT_ADMIN_KEY: join(lv.vault.pki.dir, 'gateway.key') };
    const refused = { code: 1, stdout: '', stderr: 'error: invalid_client (HTTP 401): Client authentication failed.\n' };
    expect(await cli(['grants'], gateway)).toStrictEqual(refused);
    expect(await cli(['revoke', '--provider', 'servicenow', '--reason', 'r'], gateway)).toStrictEqual(refused);
    expect(await lv.allGrants()).toStrictEqual(before);
    expect(await lv.vault.runtime.stores.audit.heads()).toStrictEqual(auditHead);
  });
});
