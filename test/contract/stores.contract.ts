/**
 * One behavioural contract for every Stores implementation (src/store/: one interface, two implementations).
 * Memory and Redis run the same cases, so dev mode cannot drift from production.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Stores } from '../../src/store/stores.js';
import { describeAdminStoresContract } from './admin-stores.contract.js';
import { describeApprovalStoreContract } from './approval-store.contract.js';
import { describeAuditStoreContract } from './audit-store.contract.js';
import { describeGrantStoreContract } from './grant-store.contract.js';
import { describeKillSwitchStoreContract } from './kill-switch-store.contract.js';
import { describeLockStoreContract } from './lock-store.contract.js';
import { describeTokenStoreContract } from './token-store.contract.js';
import { describeSessionStoreContract } from './session-store.contract.js';
import { describeRevocationQueueContract } from './revocation-queue.contract.js';

export { auditEntry, grantFixture, tokenFixture } from './fixtures.js';

export interface StoreFixture {
  stores: Stores;
  cleanup: () => Promise<void>;
}

/** Registers the whole contract; `factory` gives each test fresh, empty stores. */
export function describeStoreContract(name: string, factory: () => Promise<StoreFixture>): void {
  describe(`${name} stores contract`, () => {
    let fixture: StoreFixture;
    const stores = (): Stores => fixture.stores;

    beforeEach(async () => {
      fixture = await factory();
    });
    afterEach(async () => {
      await fixture.cleanup();
    });

    describeGrantStoreContract(stores);
    describeTokenStoreContract(stores);
    describeLockStoreContract(stores);
    describeKillSwitchStoreContract(stores);
    describeAuditStoreContract(stores);
    describeAdminStoresContract(stores);
    describeSessionStoreContract(stores);
    describeRevocationQueueContract(stores);
    describeApprovalStoreContract(stores);

    it('answers ping', async () => {
      await expect(stores().ping()).resolves.toBeUndefined();
    });
  });
}
