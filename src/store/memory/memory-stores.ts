import { StoreUnavailableError } from '../errors.js';
import type { Stores } from '../stores.js';
import { AUDIT_CHAINS_DEFAULT } from '../audit-store.js';
import { MemoryAuditStore } from './audit-store.js';
import { MemoryGrantStore } from './grant-store.js';
import { MemoryKillSwitchStore } from './kill-switch-store.js';
import { MemoryKillSwitchEvents } from './kill-switch-events.js';
import { MemoryAdminJobStore } from './admin-job-store.js';
import { MemoryLockStore } from './lock-store.js';
import { MemoryTokenStore } from './token-store.js';
import { MemoryOneShotStore, MemorySessionStore } from './session-store.js';
import { MemoryRevocationQueue } from './revocation-queue.js';
import { MemoryWebhookQueue } from './webhook-queue.js';
import { MemoryApprovalStore } from './approval-store.js';

/**
 * In-process stores with the same semantics as the Redis implementation.
 * For dev mode and unit tests only: nothing survives a restart and nothing is
 * shared between replicas, so production config must never select it.
 */
export function createMemoryStores(auditChains = AUDIT_CHAINS_DEFAULT): Stores {
  const tokens = new MemoryTokenStore();
  let closed = false;
  return {
    grants: new MemoryGrantStore((grantId) => void tokens.dropAccessToken(grantId)),
    tokens,
    locks: new MemoryLockStore(),
    killSwitches: new MemoryKillSwitchStore(),
    killSwitchEvents: new MemoryKillSwitchEvents(),
    adminJobs: new MemoryAdminJobStore(),
    audit: new MemoryAuditStore(auditChains),
    sessions: new MemorySessionStore(),
    oneShot: new MemoryOneShotStore(),
    revocations: new MemoryRevocationQueue(),
    webhooks: new MemoryWebhookQueue(),
    approvals: new MemoryApprovalStore(),
    async ping() {
      if (closed) throw new StoreUnavailableError('store closed');
    },
    async durabilityProblems() {
      return ['memory store: nothing survives a restart (dev only)'];
    },
    async close() {
      closed = true;
    },
  };
}
