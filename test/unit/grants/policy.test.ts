import { describe, expect, it } from 'vitest';
import { AccessDenied, ConsentRequired } from '../../../src/errors.js';
import { GrantPolicy } from '../../../src/grants/policy.js';
import { ProviderCatalog } from '../../../src/providers/catalog.js';
import { providerSchema } from '../../../src/providers/schema.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';
import { grantFixture } from '../../contract/fixtures.js';

const AGENT = 'spiffe://corp.example/agent/a';
const catalog = new ProviderCatalog(
  {
    salesforce: providerSchema.parse({
      kind: 'salesforce',
      displayName: 'Salesforce',
      clientId: 'c',
      operations: { 'records.read': { description: 'Read', methods: ['GET'], paths: ['/**'] } },
    }),
  },
  { [AGENT]: { displayName: 'A', operations: ['salesforce:records.read'] } },
);
const operation = catalog.operation('salesforce:records.read')!;

describe('grant selection', () => {
  it('never serves a stale status: a revoked grant is refused even right after it was selected', async () => {
    const { grants } = createMemoryStores();
    const grant = grantFixture();
    await grants.create(grant);
    const policy = new GrantPolicy(grants, catalog, 'https://vault.test');
    expect((await policy.select(grant.userId, AGENT, operation)).id).toBe(grant.id);
    await grants.setStatus(grant.id, 'revoked');
    await expect(policy.select(grant.userId, AGENT, operation)).rejects.toBeInstanceOf(AccessDenied);
  });

  it('finds a newly linked grant after the previous one was revoked', async () => {
    const { grants } = createMemoryStores();
    const old = grantFixture({ updatedAt: 1 });
    await grants.create(old);
    const policy = new GrantPolicy(grants, catalog, 'https://vault.test');
    await policy.select(old.userId, AGENT, operation);
    await grants.setStatus(old.id, 'revoked');
    const relinked = grantFixture({ updatedAt: 2 });
    await grants.create(relinked);
    expect((await policy.select(old.userId, AGENT, operation)).id).toBe(relinked.id);
  });

  it('asks for consent when the user withdrew it', async () => {
    const { grants } = createMemoryStores();
    const grant = grantFixture();
    await grants.create(grant);
    const policy = new GrantPolicy(grants, catalog, 'https://vault.test');
    await policy.select(grant.userId, AGENT, operation);
    await grants.setConsent(grant.id, AGENT, []);
    await expect(policy.select(grant.userId, AGENT, operation)).rejects.toBeInstanceOf(ConsentRequired);
  });

  it('hands back the read issued alongside the grant only when that grant read is the one selected', async () => {
    const { grants } = createMemoryStores();
    const grant = grantFixture({ updatedAt: 1 });
    await grants.create(grant);
    const policy = new GrantPolicy(grants, catalog, 'https://vault.test');
    const started: string[] = [];
    const alongside = async (id: string) => {
      started.push(id);
      return id;
    };
    // No hint yet: the grant comes from the user's index, nothing is read alongside.
    expect(await policy.selectWith(grant.userId, AGENT, operation, undefined, alongside)).toStrictEqual({ grant });
    const hinted = await policy.selectWith(grant.userId, AGENT, operation, undefined, alongside);
    expect(hinted.grant).toStrictEqual(grant);
    expect(await hinted.alongside).toBe(grant.id);
    expect(started).toStrictEqual([grant.id]);
    // A stale hint (its grant revoked, another linked): the index decides, the early read is not handed back.
    await grants.setStatus(grant.id, 'revoked');
    const relinked = grantFixture({ updatedAt: 2 });
    await grants.create(relinked);
    const after = await policy.selectWith(grant.userId, AGENT, operation, undefined, alongside);
    expect(after.grant.id).toBe(relinked.id);
    expect(after.alongside).toBeUndefined();
  });
});
