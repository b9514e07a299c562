import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createAuditWriter } from '../../../src/audit/writer.js';
import type { AuditEventInput } from '../../../src/audit/events.js';
import { HISTORY_WINDOW, recentUses } from '../../../src/linking/grant-history.js';
import { ProviderCatalog } from '../../../src/providers/catalog.js';
import { providerSchema } from '../../../src/providers/schema.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';
import { grantFixture } from '../../contract/fixtures.js';

const AGENT = 'spiffe://corp.example/agent/a';
const READ = 'salesforce:records.read';
const catalog = new ProviderCatalog(
  {
    salesforce: providerSchema.parse({
      kind: 'salesforce',
      displayName: 'Salesforce',
      clientId: 'c',
      operations: { 'records.read': { description: 'Read records', methods: ['GET'], paths: ['/**'] } },
    }),
  },
  { [AGENT]: { displayName: 'Agent A', operations: [READ] } },
);

function trail() {
  const stores = createMemoryStores();
  let clock = Date.parse('2026-11-22T10:00:00.000Z');
  const audit = createAuditWriter({ store: stores.audit, hmacKey: randomBytes(32), now: () => (clock += 1_000) });
  return { stores, record: (event: AuditEventInput) => audit.record(event) };
}

describe("a connection's recent uses", () => {
  const grant = grantFixture({ id: 'g-mine', userId: 'https://idp.example#alice' });
  const use = (extra: Partial<AuditEventInput> = {}): AuditEventInput => ({
    action: 'token.exchange',
    decision: 'allow',
    agent: AGENT,
    user: grant.userId,
    grant: grant.id,
    operation: READ,
    ...extra,
  });

  it('lists exchanges and forwarded calls, newest first, with outcome, operation and request', async () => {
    const { stores, record } = trail();
    await record(use());
    await record({ action: 'grant.consent', decision: 'allow', agent: AGENT, user: grant.userId, grant: grant.id });
    await record(use({ decision: 'deny', reason: 'kill switch engaged' }));
    await record(use({ action: 'token.forward', details: { method: 'GET', path: '/services/data/{v}/query', upstreamStatus: 200 } }));
    await record(use({ action: 'token.forward', decision: 'error', agent: 'spiffe://unknown/agent', operation: 'salesforce:gone' }));

    expect(await recentUses(stores.audit, catalog, grant)).toStrictEqual([
      { time: '2026-11-22T10:00:05.000Z', agent: { id: 'spiffe://unknown/agent' }, operation: { name: 'salesforce:gone' }, outcome: 'Failed' },
      {
        time: '2026-11-22T10:00:04.000Z',
        agent: { id: AGENT, displayName: 'Agent A' },
        operation: { name: READ, description: 'Read records' },
        request: 'GET /services/data/{v}/query',
        outcome: 'Call made (HTTP 200)',
      },
      {
        time: '2026-11-22T10:00:03.000Z',
        agent: { id: AGENT, displayName: 'Agent A' },
        operation: { name: READ, description: 'Read records' },
        outcome: 'Refused',
      },
      {
        time: '2026-11-22T10:00:01.000Z',
        agent: { id: AGENT, displayName: 'Agent A' },
        operation: { name: READ, description: 'Read records' },
        outcome: 'Token issued',
      },
    ]);
  });

  it("leaves out other grants' uses, records naming another user, and records without an agent", async () => {
    const { stores, record } = trail();
    await record(use({ grant: 'g-other' }));
    await record(use({ user: 'https://idp.example#mallory' }));
    const { agent: _none, ...noAgent } = use();
    await record(noAgent);
    expect(await recentUses(stores.audit, catalog, grant)).toStrictEqual([]);
  });

  it(`stops at the limit and reads no more than ${HISTORY_WINDOW} indexed entries`, async () => {
    const { stores, record } = trail();
    for (let i = 0; i < 30; i++) await record(use({ jti: `j-${i}` }));
    expect(await recentUses(stores.audit, catalog, grant)).toHaveLength(20);
    expect(await recentUses(stores.audit, catalog, grant, 5)).toHaveLength(5);
    // Older uses hidden behind a window full of non-use records are not looked for.
    for (let i = 0; i < HISTORY_WINDOW; i++) await record({ action: 'upstream.refresh', decision: 'allow', user: grant.userId, grant: grant.id });
    expect(await recentUses(stores.audit, catalog, grant)).toStrictEqual([]);
  });
});
