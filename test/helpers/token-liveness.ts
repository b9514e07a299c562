import { grantHonours } from '../../src/grants/liveness.js';
import type { Grant } from '../../src/store/grant-store.js';
import type { OperationTokenRecord } from '../../src/store/token-store.js';
import type { Stores } from '../../src/store/stores.js';

/** A record for a grant's first consented (agent, operation), as /exchange would store it. */
export function consentedRecord(jti: string, grant: Grant): OperationTokenRecord {
  const [agent, operations] = Object.entries(grant.consent).find(([, ops]) => ops.length > 0) ?? [];
  if (agent === undefined || operations?.[0] === undefined) throw new Error(`grant ${grant.id} consents to nothing`);
  return {
    jti,
    grantId: grant.id,
    userId: grant.userId,
    agent,
    provider: grant.provider,
    operation: operations[0],
    gateway: 'gw',
    certThumbprint: 'x',
    usesLeft: 1,
    expiresAt: Date.now() + 60_000,
    ...(grant.consentEpochs?.[agent] !== undefined && { consentEpoch: grant.consentEpochs[agent] }),
  };
}

/** Whether /introspect and /forward would still honour the token: its record and its live grant. */
export async function honoured(stores: Stores, jti: string): Promise<boolean> {
  const record = await stores.tokens.get(jti);
  return record !== null && record.usesLeft > 0 && grantHonours(record, record && (await stores.grants.get(record.grantId)));
}
