/**
 * The user's view of a connection, on Redis: recent uses
 * from the audit trail (real /exchange calls over mTLS), revoking one agent's
 * consent (POST + CSRF, 303, audited as the user) after which that agent's
 * exchange is refused with `consent_required` while another agent still gets
 * tokens, and no other user's history on a page, even with a tampered index.
 */
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Grant } from '../../../src/store/grant-store.js';
import { adminCall } from '../../helpers/admin-client.js';
import { BrowserClient } from '../../helpers/browser-client.js';
import { call } from '../../helpers/https-client.js';
import { SALES_AGENT, startLinkingVault, SUPPORT_AGENT, type LinkingVault } from '../../helpers/linking-vault.js';
import { redisForTests, type RedisHandle } from '../../helpers/redis-server.js';
import { withRequestId } from '../../helpers/request-id.js';
import { trailRecords } from '../../helpers/audit-trail.js';
import { auditChainOfGrant } from '../../../src/store/audit-store.js';

const READ = 'salesforce:records.read';
const WRITE = 'salesforce:records.write';

let redis: RedisHandle;
let lv: LinkingVault;
let alice: BrowserClient;
let bob: BrowserClient;
let aliceGrant: Grant;
let bobGrant: Grant;
/** Operation tokens issued before the revocation: the revoked agent's must die with its consent. */
let supportToken: string;
let salesToken: string;

/** Alice saves consent on her connection page: read for both agents, write for the sales agent. */
async function aliceConsentsToAll(): Promise<void> {
  const page = await alice.get('/connections/salesforce');
  const saved = await alice.postForm('/connections/salesforce/consent', {
    _csrf: BrowserClient.csrf(page),
    grant: aliceGrant.id,
    consent: [`${READ} ${SUPPORT_AGENT}`, `${READ} ${SALES_AGENT}`, `${WRITE} ${SALES_AGENT}`],
  });
  expect(saved.status).toBe(303);
}

async function issued(login: string, agent: string, operation: string): Promise<string> {
  const res = await lv.exchange(login, agent, operation);
  expect(res.status).toBe(200);
  return res.json<{ access_token: string }>().access_token;
}

async function introspect(token: string): Promise<{ active: boolean }> {
  const res = await call(`${lv.vault.internalUrl}/introspect`, {
    method: 'POST',
    ca: lv.vault.pki.ca,
    client: lv.vault.pki.gateway,
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token }).toString(),
  });
  return res.json<{ active: boolean }>();
}

const text = (cell: string) =>
  cell
    .replace(/<[^>]+>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();

/** The cells of every body row of the table with `class` on a page, as text. */
function rows(page: string, cls: string): string[][] {
  const table = new RegExp(`<table class="${cls}">([\\s\\S]*?)</table>`).exec(page)?.[1];
  if (table === undefined) return [];
  const body = /<tbody>([\s\S]*?)<\/tbody>/.exec(table)?.[1] ?? '';
  return [...body.matchAll(/<tr>([\s\S]*?)<\/tr>/g)].map((r) => [...r[1]!.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((c) => text(c[1]!)));
}

const timeCell = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/;

async function auditBodies(): Promise<Array<Record<string, unknown>>> {
  return await trailRecords(lv.vault.runtime.stores.audit);
}

beforeAll(async () => {
  redis = await redisForTests();
  lv = await startLinkingVault({ redisUrl: redis.url });
  alice = await lv.signIn('alice');
  await lv.link(alice, 'salesforce', 'alice');
  bob = await lv.signIn('bob');
  await lv.link(bob, 'salesforce', 'bob');
  aliceGrant = (await lv.grants('alice'))[0]!;
  bobGrant = (await lv.grants('bob'))[0]!;
  // Consent through the page, as the user gives it.
  await aliceConsentsToAll();
  const bobPage = await bob.get('/connections/salesforce');
  await bob.postForm('/connections/salesforce/consent', { _csrf: BrowserClient.csrf(bobPage), grant: bobGrant.id, consent: [`${READ} ${SUPPORT_AGENT}`] });
}, 60_000);
afterAll(async () => {
  await lv?.close();
  await redis?.stop();
});

describe("a connection's agents and history", () => {
  it('shows who used the connection, when, for what and with what outcome, newest first', async () => {
    const before = await alice.get('/connections/salesforce');
    expect(before.text).toContain('No agent has used this account recently.');
    expect(rows(before.text, 'agents')).toStrictEqual([
      [`Sales agent ${SALES_AGENT}`, `Read your Salesforce records ${READ} Change your Salesforce records ${WRITE}`, 'Revoke Sales agent'],
      [`Support agent ${SUPPORT_AGENT}`, `Read your Salesforce records ${READ}`, 'Revoke Support agent'],
    ]);

    supportToken = await issued('alice', SUPPORT_AGENT, READ);
    salesToken = await issued('alice', SALES_AGENT, WRITE);
    await issued('bob', SUPPORT_AGENT, READ);

    const page = await alice.get('/connections/salesforce');
    const history = rows(page.text, 'history');
    expect(history.map(([time, ...rest]) => [timeCell.test(time!), ...rest])).toStrictEqual([
      [true, `Sales agent ${SALES_AGENT}`, `Change your Salesforce records ${WRITE}`, 'Token issued'],
      [true, `Support agent ${SUPPORT_AGENT}`, `Read your Salesforce records ${READ}`, 'Token issued'],
    ]);
    expect(page.text).toMatch(/<th scope="col">Time \(UTC\)<\/th><th scope="col">Agent<\/th><th scope="col">Operation<\/th><th scope="col">Outcome<\/th>/);
    expect(page.text).toContain('<caption>Up to the 20 most recent uses of this account by agents, newest first.</caption>');
  });

  it("revokes one agent's consent: its tokens die, its exchange is refused, the other agent still works", async () => {
    expect(await introspect(supportToken)).toMatchObject({ active: true });
    const page = await alice.get('/connections/salesforce');
    const res = await alice.postForm('/connections/salesforce/revoke-agent', { _csrf: BrowserClient.csrf(page), grant: aliceGrant.id, agent: SUPPORT_AGENT });
    expect({ status: res.status, location: res.location }).toStrictEqual({ status: 303, location: '/connections/salesforce?result=agent_revoked' });
    expect((await lv.vault.runtime.stores.grants.get(aliceGrant.id))?.consent).toStrictEqual({ [SALES_AGENT]: [READ, WRITE] });
    expect((await lv.vault.runtime.stores.grants.get(bobGrant.id))?.consent).toStrictEqual({ [SUPPORT_AGENT]: [READ] });

    expect(await introspect(supportToken)).toStrictEqual({ active: false });
    expect(await introspect(salesToken)).toMatchObject({ active: true, act: { sub: SALES_AGENT } });
    const refused = await lv.exchange('alice', SUPPORT_AGENT, READ);
    expect({ status: refused.status, body: refused.json() }).toStrictEqual({
      status: 400,
      body: withRequestId(refused, {
        error: 'consent_required',
        error_description: 'operation is not consented for this agent',
        error_uri: `${lv.publicUrl}/connections/salesforce?agent=${encodeURIComponent(SUPPORT_AGENT)}&operation=${encodeURIComponent(READ)}`,
      }),
    });
    expect((await lv.exchange('alice', SALES_AGENT, READ)).status).toBe(200);
    expect((await lv.exchange('bob', SUPPORT_AGENT, READ)).status).toBe(200);

    const audit = await auditBodies();
    expect(audit).toContainEqual(
      expect.objectContaining({
        action: 'grant.consent',
        decision: 'allow',
        reason: 'agent_revoked',
        actor: aliceGrant.userId,
        user: aliceGrant.userId,
        agent: SUPPORT_AGENT,
        grant: aliceGrant.id,
        provider: 'salesforce',
        details: { operations: '(none)', revoked: READ },
      }),
    );

    const after = await alice.get('/connections/salesforce?result=agent_revoked');
    expect(after.text).toContain('That agent can no longer use this account. Other agents keep the access you gave them.');
    expect(rows(after.text, 'agents').map((r) => r[0])).toStrictEqual([`Sales agent ${SALES_AGENT}`]);
    // Newest first; the refused exchange reached alice's grant, so it is part of its history.
    expect(rows(after.text, 'history').map((r) => [r[1], r[2], r[3]])).toStrictEqual([
      [`Sales agent ${SALES_AGENT}`, `Read your Salesforce records ${READ}`, 'Token issued'],
      [`Support agent ${SUPPORT_AGENT}`, `Read your Salesforce records ${READ}`, 'Refused'],
      [`Sales agent ${SALES_AGENT}`, `Change your Salesforce records ${WRITE}`, 'Token issued'],
      [`Support agent ${SUPPORT_AGENT}`, `Read your Salesforce records ${READ}`, 'Token issued'],
    ]);
  });

  it('lists a refused use once the exchange reached the grant (here: a kill switch on it)', async () => {
    const engaged = await adminCall(lv.vault, '/admin/kill-switches', {
      method: 'POST',
      body: { scope: 'grant', target: aliceGrant.id, reason: 'investigation' },
    });
    expect(engaged.status).toBe(200);
    await expect.poll(async () => (await lv.exchange('alice', SALES_AGENT, READ)).status, { timeout: 5_000, interval: 100 }).toBe(403);
    const page = await alice.get('/connections/salesforce');
    expect(rows(page.text, 'history')[0]?.slice(1)).toStrictEqual([`Sales agent ${SALES_AGENT}`, `Read your Salesforce records ${READ}`, 'Refused']);
    const released = await adminCall(lv.vault, `/admin/kill-switches/grant/${encodeURIComponent(aliceGrant.id)}`, { method: 'DELETE' });
    expect(released.status).toBe(200);
    await expect.poll(async () => (await lv.exchange('alice', SALES_AGENT, READ)).status, { timeout: 5_000, interval: 100 }).toBe(200);
  });

  it('refuses a revocation without CSRF, of a foreign grant or with an oversized agent id; an agent without consent changes nothing', async () => {
    const head = await lv.vault.runtime.stores.audit.heads();
    const snapshot = await lv.allGrants();
    const noCsrf = await alice.postForm('/connections/salesforce/revoke-agent', { grant: aliceGrant.id, agent: SALES_AGENT });
    expect(noCsrf.status).toBe(403);
    const bobPage = await bob.get('/connections/salesforce');
    const foreign = await bob.postForm('/connections/salesforce/revoke-agent', {
      _csrf: BrowserClient.csrf(bobPage),
      grant: aliceGrant.id,
      agent: SALES_AGENT,
    });
    expect(foreign.status).toBe(404);
    expect(foreign.text).toContain('That connection does not exist or is not yours. Nothing was changed.');
    const tooLong = await alice.postForm('/connections/salesforce/revoke-agent', {
      _csrf: BrowserClient.csrf(await alice.get('/connections/salesforce')),
      grant: aliceGrant.id,
      agent: 'a'.repeat(513),
    });
    expect(tooLong.status).toBe(400);
    // An agent with no consent: the same answer as a revocation, and nothing to audit.
    const none = await alice.postForm('/connections/salesforce/revoke-agent', {
      _csrf: BrowserClient.csrf(await alice.get('/connections/salesforce')),
      grant: aliceGrant.id,
      agent: SUPPORT_AGENT,
    });
    expect({ status: none.status, location: none.location }).toStrictEqual({ status: 303, location: '/connections/salesforce?result=agent_revoked' });
    expect(await lv.allGrants()).toStrictEqual(snapshot);
    expect(await lv.vault.runtime.stores.audit.heads()).toStrictEqual(head);
  });

  it("never shows another user's history, even when the grant index in Redis is edited to point at it", async () => {
    const bobPage = await bob.get('/connections/salesforce');
    const bobHistory = rows(bobPage.text, 'history');
    expect(bobHistory.map((r) => [r[1], r[2], r[3]])).toStrictEqual([
      [`Support agent ${SUPPORT_AGENT}`, `Read your Salesforce records ${READ}`, 'Token issued'],
      [`Support agent ${SUPPORT_AGENT}`, `Read your Salesforce records ${READ}`, 'Token issued'],
    ]);
    expect(bobPage.text).not.toContain(aliceGrant.id);

    // Someone with write access to Redis points bob's index at alice's newest exchange records.
    const aliceSeqs = (await lv.vault.runtime.stores.audit.latestForGrant(aliceGrant.id, 50))
      .filter((e) => (JSON.parse(e.body) as { action: string }).action === 'token.exchange')
      .map((e) => e.seq);
    expect(aliceSeqs.length).toBeGreaterThan(0);
    const raw = new Redis(redis.url);
    try {
      // Bob's index lives in the chain of bob's grant; the seqs are looked up there.
      const key = `${String(lv.vault.config.store.redis.keyPrefix)}{audit:${auditChainOfGrant(bobGrant.id, 16)}}:grant:${bobGrant.id}`;
      expect(await raw.exists(key)).toBe(1);
      await raw.lpush(key, ...aliceSeqs.map(String));
    } finally {
      raw.disconnect();
    }
    const tampered = await bob.get('/connections/salesforce');
    expect(rows(tampered.text, 'history')).toStrictEqual(bobHistory);
    expect(JSON.stringify(rows(tampered.text, 'history'))).not.toContain(SALES_AGENT);
  });

  it('giving the agent its consent back does not revive the token issued before the revocation', async () => {
    expect(await introspect(supportToken)).toStrictEqual({ active: false });
    await aliceConsentsToAll();
    expect((await lv.vault.runtime.stores.grants.get(aliceGrant.id))?.consent[SUPPORT_AGENT]).toStrictEqual([READ]);
    // The old token stays dead; a new exchange under the new consent works.
    expect(await introspect(supportToken)).toStrictEqual({ active: false });
    expect(await introspect(await issued('alice', SUPPORT_AGENT, READ))).toMatchObject({ active: true, act: { sub: SUPPORT_AGENT } });
  });
});
