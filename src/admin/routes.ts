/**
 * The admin API under `/admin` on the internal listener: admin authentication
 * first (certificate or console + JWT), then every admin route.
 */
import type { FastifyPluginAsync } from 'fastify';
import type { AuditWriter, Checkpointer } from '../audit/index.js';
import type { AuditStore } from '../store/audit-store.js';
import { auditRoutes } from './audit-routes.js';
import type { KeyCustodian } from '../crypto/key-custodian.js';
import { keyRoutes } from './key-routes.js';
import type { RewrapRuns } from '../grants/rewrap-runs.js';
import { adminAuth } from './admin-auth.js';
import type { AdminJwtVerifier } from './admin-jwt.js';
import type { KillSwitchControl } from '../kill-switches/control.js';
import { killSwitchRoutes } from './kill-switch-routes.js';
import { grantRoutes, type GrantRoutesOptions } from './grant-routes.js';
import { approvalRoutes } from './approval-routes.js';
import type { Approvals } from '../approvals/approval-service.js';

export interface AdminRoutesOptions {
  jwt: AdminJwtVerifier | undefined;
  audit: AuditWriter;
  killSwitches: KillSwitchControl;
  auditStore: AuditStore;
  checkpointer: Checkpointer;
  auditHmacKey: Uint8Array;
  custodian: KeyCustodian;
  rewrap: RewrapRuns;
  grants: Omit<GrantRoutesOptions, 'audit'>;
  approvals: Approvals;
}

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, opts) => {
  await app.register(adminAuth, { jwt: opts.jwt });
  await app.register(killSwitchRoutes, { control: opts.killSwitches, audit: opts.audit });
  await app.register(auditRoutes, { store: opts.auditStore, audit: opts.audit, checkpointer: opts.checkpointer, hmacKey: opts.auditHmacKey });
  await app.register(grantRoutes, { ...opts.grants, audit: opts.audit });
  await app.register(keyRoutes, { custodian: opts.custodian, rewrap: opts.rewrap, audit: opts.audit });
  await app.register(approvalRoutes, { approvals: opts.approvals });
};
