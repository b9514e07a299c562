/**
 * When an operation token's record may be honoured (/introspect, /forward).
 * A record alone is not enough: no index ties tokens to their grant, so
 * revoking, unlinking or re-consenting a grant kills its tokens through this
 * check, read fresh on every use. Kill switches are checked by the caller.
 */
import type { Grant } from '../store/grant-store.js';
import type { OperationTokenRecord } from '../store/token-store.js';

/** The grant the token was issued under is still active, the same user's and provider's, and still consents. */
export function grantHonours(record: OperationTokenRecord, grant: Grant | null): grant is Grant {
  return (
    grant !== null &&
    grant.id === record.grantId &&
    grant.status === 'active' &&
    grant.userId === record.userId &&
    grant.provider === record.provider &&
    (grant.consent[record.agent]?.includes(record.operation) ?? false) &&
    // This agent's consent changed since issue (even if consented again): the token stays dead.
    (grant.consentEpochs?.[record.agent] ?? 0) === (record.consentEpoch ?? 0)
  );
}
