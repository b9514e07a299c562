import type { AdminJobStore } from './admin-job-store.js';
import type { ApprovalStore } from './approval-store.js';
import type { AuditStore } from './audit-store.js';
import type { GrantStore } from './grant-store.js';
import type { KillSwitchEvents, KillSwitchStore } from './kill-switch-store.js';
import type { LockStore } from './lock-store.js';
import type { RevocationQueue } from './revocation-queue.js';
import type { OneShotStore, SessionStore } from './session-store.js';
import type { TokenStore } from './token-store.js';

/** Told of every store call on a networked backend (metrics): which store method, how long, whether it failed. */
export interface StoreObserver {
  /** `method` is `<store>.<method>` (e.g. `grants.get`), a name from the code, never an argument. */
  command(method: string, seconds: number, ok: boolean): void;
}

/** Everything the app needs from storage, with one lifecycle. */
export interface Stores {
  grants: GrantStore;
  tokens: TokenStore;
  locks: LockStore;
  killSwitches: KillSwitchStore;
  killSwitchEvents: KillSwitchEvents;
  adminJobs: AdminJobStore;
  audit: AuditStore;
  sessions: SessionStore;
  oneShot: OneShotStore;
  revocations: RevocationQueue;
  approvals: ApprovalStore;
  /** Cheap round trip for /readyz; rejects when the backend is unreachable. */
  ping(): Promise<void>;
  /**
   * Why this backend would lose data, one line each (empty when durable): production
   * refuses to start on Redis without AOF or with an evicting `maxmemory-policy`.
   */
  durabilityProblems(): Promise<string[]>;
  close(): Promise<void>;
  /** Reports every later store call to `observer` (Redis only; undefined stops reporting). */
  observe?(observer: StoreObserver | undefined): void;
}
