/**
 * Each operation's limits in plain words, from the catalog's `uses`,
 * `maxTtlSeconds` and `releaseUpstreamToken`.
 */
import { describe, expect, it } from 'vitest';
import { limitsText } from '../../../../src/linking/pages/request-view.js';
import { ProviderCatalog } from '../../../../src/providers/catalog.js';
import { providerSchema } from '../../../../src/providers/schema.js';

const base = { description: 'd', methods: ['GET'], paths: ['/**'] };
const catalog = new ProviderCatalog(
  {
    crm: providerSchema.parse({
      kind: 'oidc',
      displayName: 'Demo CRM',
      clientId: 'c',
      issuer: 'https://crm.example',
      apiBaseUrl: 'https://crm.example/api',
      operations: {
        once: base,
        batch: { ...base, uses: 5, maxTtlSeconds: 900 },
        raw: { ...base, maxTtlSeconds: 90, releaseUpstreamToken: true },
        second: { ...base, maxTtlSeconds: 1 },
      },
    }),
  },
  {},
);
const text = (name: string) => limitsText(catalog.operation(`crm:${name}`)!, catalog.provider('crm')!);

describe('operation limits in plain words', () => {
  it('says how many calls, for how long, and whether the token itself may leave the vault', () => {
    expect(text('once')).toBe('Each time the agent asks: one call, valid for 60 seconds; your Demo CRM token never leaves the vault.');
    expect(text('batch')).toBe('Each time the agent asks: 5 calls, valid for 15 minutes; your Demo CRM token never leaves the vault.');
    expect(text('raw')).toBe('Each time the agent asks: one call, valid for 90 seconds; the agent’s gateway may receive your Demo CRM access token itself.');
    expect(text('second')).toBe('Each time the agent asks: one call, valid for 1 second; your Demo CRM token never leaves the vault.');
  });
});
