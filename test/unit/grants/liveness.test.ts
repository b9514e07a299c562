import { describe, expect, it } from 'vitest';
import { grantHonours } from '../../../src/grants/liveness.js';
import { grantFixture, tokenFixture } from '../../contract/fixtures.js';

describe('grantHonours: a token record counts only with its live grant', () => {
  const grant = grantFixture({ id: 'g-1' });
  const record = tokenFixture({ grantId: 'g-1' });

  it('honours a record whose grant is active, the same user and provider, and consents to the agent and operation', () => {
    expect(grantHonours(record, grant)).toBe(true);
    expect(grantHonours({ ...record, consentEpoch: 3 }, { ...grant, consentEpochs: { [record.agent]: 3 } })).toBe(true);
    // Another agent's consent changing leaves this token alone.
    expect(grantHonours(record, { ...grant, consentEpochs: { 'spiffe://corp.example/agent/b': 4 } })).toBe(true);
  });

  it.each([
    ['the grant is gone', null],
    ['the grant is revoked', { ...grant, status: 'revoked' as const }],
    ['the grant needs re-consent', { ...grant, status: 'consent_required' as const }],
    ['another grant was read', { ...grant, id: 'g-2' }],
    ['the grant belongs to another user', { ...grant, userId: 'https://idp.example|mallory' }],
    ['the grant is for another provider', { ...grant, provider: 'servicenow' }],
    ['the agent lost its consent', { ...grant, consent: {} }],
    ['the operation is no longer consented', { ...grant, consent: { [record.agent]: ['salesforce:records.write'] } }],
    ['consent was withdrawn and given again since the token was issued', { ...grant, consentEpochs: { [record.agent]: 2 } }],
  ])('refuses when %s', (_why, candidate) => {
    expect(grantHonours(record, candidate)).toBe(false);
  });
});
