/**
 * Requests awaiting a human approval before any token exists (src/approvals/). A request is
 * found by its id, the base64url SHA-256 of the `auth_req_id` the gateway holds: the store
 * never sees the bearer value, and knowing an id does not let anyone poll.
 *
 * Every change of state is one atomic step: pending → approved | denied by one decision,
 * approved → consumed by one poll; a pending or approved request past its expiry is expired.
 */

/** The action, the parties and the deadline of one request; never changes after creation. */
export interface ApprovalRecord {
  /** base64url SHA-256 of the auth_req_id. */
  id: string;
  /** Who may decide: the user on the consent pages, or an admin. */
  approver: 'user' | 'admin';
  gateway: string;
  /** base64url SHA-256 of the gateway certificate DER (RFC 8705 `x5t#S256`). */
  certThumbprint: string;
  agent: string;
  userId: string;
  grantId: string;
  provider: string;
  /** `<provider>:<operation>`. */
  operation: string;
  method: string;
  /** Path and query under `/forward/<provider>`, as the agent will send it. */
  path: string;
  /** base64url SHA-256 of the request body. */
  bodySha256: string;
  /** The agent's words for the approver; shown as text only. */
  summary?: string;
  /** The RFC 9396 entry the exchange asked with (JSON): what the minted token carries. */
  detail: string;
  /** Epoch ms. */
  createdAt: number;
  expiresAt: number;
  /** The least time between two polls (OpenID CIBA Core 1.0 §7.3 `interval`), ms. */
  intervalMs: number;
}

export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'consumed' | 'expired';

export interface ApprovalView {
  record: ApprovalRecord;
  status: ApprovalStatus;
  /** Who decided (`user:<id>` or `admin:<id>`) and when (epoch ms). */
  decidedBy?: string;
  decidedAt?: number;
}

/** Who a poll must come from: the gateway certificate and the agent and user the request was made for. */
export interface ApprovalBinding {
  gateway: string;
  certThumbprint: string;
  agent: string;
  userId: string;
}

/**
 * What a poll found. `unknown` also answers a request of another gateway, agent or user, so a
 * poll reveals nothing about requests that are not the caller's. `approved` is returned once:
 * the same step marks the request consumed.
 */
export type PollOutcome =
  { outcome: 'unknown' | 'consumed' | 'expired' | 'slow_down' | 'pending' | 'denied' } | { outcome: 'approved'; record: ApprovalRecord };

/** Who decides: an admin, or the user the request is for. */
export type Decider = { role: 'admin'; id: string } | { role: 'user'; id: string };

/** `unknown` also answers a request the decider may not decide (another user's, or the other role's). */
export type DecideOutcome = 'decided' | 'unknown' | 'expired' | 'already_decided';

export interface ApprovalStore {
  /** Stores a pending request, kept (for `expired` and `consumed` answers) until `retainUntil` (epoch ms). */
  create(record: ApprovalRecord, retainUntil: number): Promise<void>;
  get(id: string, now: number): Promise<ApprovalView | null>;
  /** The user's pending user-approved requests, oldest first. */
  pendingForUser(userId: string, now: number): Promise<ApprovalView[]>;
  /** Every pending admin-approved request, oldest first. */
  pendingForAdmins(now: number): Promise<ApprovalView[]>;
  /** One poll, atomically: binding, state, expiry and the poll interval (a poll sooner than it is `slow_down`). */
  poll(id: string, binding: ApprovalBinding, now: number): Promise<PollOutcome>;
  /** Approves or denies a pending request, atomically: of two decisions only the first lands. */
  decide(id: string, decision: 'approved' | 'denied', by: Decider, now: number): Promise<DecideOutcome>;
}

/** Whether a stored state is past its deadline: pending and approved requests expire, decided ends do not. */
export function statusAt(status: Exclude<ApprovalStatus, 'expired'>, expiresAt: number, now: number): ApprovalStatus {
  return (status === 'pending' || status === 'approved') && now >= expiresAt ? 'expired' : status;
}
