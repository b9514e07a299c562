/** Test data shared by the store contract and the Redis integration tests. */
import { createHash, randomUUID } from 'node:crypto';
import type { AuditEntry, AuditHead } from '../../src/store/audit-store.js';
import type { Grant } from '../../src/store/grant-store.js';
import type { OperationTokenRecord } from '../../src/store/token-store.js';

/** A valid active grant with a fresh id; secret-bearing fields hold ciphertext-like strings. */
export function grantFixture(overrides: Partial<Grant> = {}): Grant {
  const id = overrides.id ?? `g-${randomUUID()}`;
  return {
    id,
    userId: 'https://idp.example|alice',
    provider: 'salesforce',
    upstreamSubject: 'https://login.salesforce.com/id/00D/005',
    instanceUrl: 'https://acme.my.salesforce.com',
    scopes: ['api', 'refresh_token'],
    status: 'active',
    refreshToken: 'v1.k1.ciphertext-of-refresh-token',
    version: 1,
    consent: { 'spiffe://corp.example/agent/a': ['salesforce:records.read'] },
    createdAt: 1_763_776_543_210,
    updatedAt: 1_763_776_543_210,
    ...overrides,
  };
}

/** A live single-use operation-token record with a fresh jti. */
export function tokenFixture(overrides: Partial<OperationTokenRecord> = {}): OperationTokenRecord {
  return {
    jti: `j-${randomUUID()}`,
    grantId: 'g-1',
    userId: 'https://idp.example|alice',
    agent: 'spiffe://corp.example/agent/a',
    provider: 'salesforce',
    operation: 'salesforce:records.read',
    gateway: 'spiffe://corp.example/gateway',
    certThumbprint: 'x5t-thumbprint',
    usesLeft: 1,
    expiresAt: Date.now() + 60_000,
    ...overrides,
  };
}

/** An entry of `chain` (default 0) continuing `head`, hashed like a chain (SHA-256 stands in for the audit HMAC). */
export function auditEntry(head: AuditHead | null, body: string, chain = 0, time = '2026-12-01T00:00:00.000Z'): AuditEntry {
  const seq = (head?.seq ?? 0) + 1;
  const prev = head?.hash ?? '';
  const hash = createHash('sha256').update(prev).update(body).digest('base64url');
  return { chain, seq, prev, hash, time, body };
}
