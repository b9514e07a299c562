import { describe, expect, it } from 'vitest';
import { LabelSets, statusLabel } from '../../../src/metrics/labels.js';
import { grantCensus } from '../../../src/metrics/grant-census.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';
import type { Grant } from '../../../src/store/grant-store.js';

const config = {
  agents: { 'spiffe://x/agent': { displayName: 'A', operations: [] } },
  providers: { crm: { operations: { 'records.read': {} } } },
} as unknown as ConstructorParameters<typeof LabelSets>[0];

describe('metric labels', () => {
  it('take agents, providers and operations only from the configuration', () => {
    const labels = new LabelSets(config);
    expect([labels.agent('spiffe://x/agent'), labels.agent('spiffe://x/other'), labels.agent(undefined)]).toStrictEqual(['spiffe://x/agent', 'other', 'none']);
    expect([labels.provider('crm'), labels.provider('https://crm.test/api'), labels.provider('')]).toStrictEqual(['crm', 'other', 'none']);
    expect([labels.operation('crm:records.read'), labels.operation('crm:records.delete')]).toStrictEqual(['crm:records.read', 'other']);
    expect([statusLabel(204), statusLabel(999), statusLabel(undefined)]).toStrictEqual(['204', 'other', 'none']);
  });
});

describe('grant census', () => {
  const grant = (id: string, status: Grant['status']): Grant =>
    ({
      id,
      userId: 'u',
      provider: 'crm',
      upstreamSubject: 's',
      scopes: [],
      status,
      refreshToken: 'c',
      version: 1,
      consent: {},
      createdAt: 0,
      updatedAt: 0,
    }) as Grant;

  it('counts by status over at most maxGrants, at most once per interval', async () => {
    const stores = createMemoryStores();
    for (let i = 0; i < 5; i++) await stores.grants.create(grant(`g-${i}`, i < 3 ? 'active' : 'revoked'));
    let now = 0;
    const census = grantCensus(stores.grants, { intervalMs: 1_000, maxGrants: 4, now: () => now });
    expect(await census()).toStrictEqual({ byStatus: { active: 3, consent_required: 0, revoked: 1 }, truncated: true });
    await stores.grants.create(grant('g-9', 'active'));
    expect((await census())!.byStatus.active).toBe(3);
    now = 1_000;
    const all = grantCensus(stores.grants, { now: () => now });
    expect(await all()).toStrictEqual({ byStatus: { active: 4, consent_required: 0, revoked: 2 }, truncated: false });
  });
});
