/**
 * Human approval before any token exists, in OpenID CIBA Core 1.0 poll mode: an exchange for
 * an operation with `approval: user | admin` becomes a pending request bound to the gateway
 * certificate, the agent, the user, the grant and the exact action (method, path, body
 * digest); the user (consent pages) or an admin (admin API) approves or denies it; the
 * gateway's poll (`grant_type=urn:openid:params:grant-type:ciba`) collects the outcome once.
 *
 * The `auth_req_id` is a bearer value: only its SHA-256 (the request's id) is stored, shown
 * to approvers and audited. Every request and decision is audited before it is answered.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { AuditWriter } from '../audit/events.js';
import type { ApprovalBinding, ApprovalRecord, ApprovalStore, ApprovalView, DecideOutcome, Decider } from '../store/approval-store.js';
import type { AuthorizationDetail, BoundAction } from '../tokens/token-types.js';
import { ApprovalDenied, AuthorizationPending, ExpiredToken, InvalidGrant, SlowDown } from './errors.js';

/** An approval event for webhooks (src/webhooks/ delivers them); ids only, never the auth_req_id. */
export interface ApprovalEvent {
  type: 'approval.requested' | 'approval.decided';
  data: Record<string, string | number>;
}

/** Where approval events go: the webhook emitter when one is configured. Best effort: a failure never changes a decision. */
export interface ApprovalEventSink {
  emit(event: ApprovalEvent): unknown;
}

export interface ApprovalsOptions {
  store: ApprovalStore;
  audit: AuditWriter;
  ttlSeconds: number;
  pollIntervalSeconds: number;
  events?: ApprovalEventSink | undefined;
  now?: () => number;
}

/** What an exchange that needs approval asks for, all of it already verified. */
export interface ApprovalAsk {
  approver: 'user' | 'admin';
  binding: ApprovalBinding;
  grantId: string;
  provider: string;
  operation: string;
  detail: AuthorizationDetail;
  action: BoundAction;
  /** Correlates the audit record with the exchange that asked. */
  requestId: string;
}

/** How long a request is kept past its expiry, so a late poll hears `expired_token`, not `invalid_grant`. */
const RETAIN_AFTER_EXPIRY_MS = 10 * 60_000;

export const approvalIdOf = (authReqId: string) => createHash('sha256').update(authReqId).digest('base64url');

export class Approvals {
  readonly #now: () => number;

  constructor(private readonly options: ApprovalsOptions) {
    this.#now = options.now ?? Date.now;
  }

  /** Records a pending request and answers the exchange with its handle: always throws AuthorizationPending. */
  async ask(ask: ApprovalAsk): Promise<never> {
    const { store, audit, ttlSeconds, pollIntervalSeconds } = this.options;
    const authReqId = randomBytes(32).toString('base64url');
    const now = this.#now();
    const { binding, action, detail } = ask;
    const record: ApprovalRecord = {
      id: approvalIdOf(authReqId),
      approver: ask.approver,
      ...binding,
      grantId: ask.grantId,
      provider: ask.provider,
      operation: ask.operation,
      ...action,
      ...(detail.summary !== undefined && { summary: detail.summary }),
      detail: JSON.stringify(detail),
      createdAt: now,
      expiresAt: now + ttlSeconds * 1000,
      intervalMs: pollIntervalSeconds * 1000,
    };
    // Audited first: a request an approver can see is always in the trail.
    await audit.record({
      action: 'approval.request',
      decision: 'allow',
      requestId: ask.requestId,
      gateway: binding.gateway,
      agent: binding.agent,
      user: binding.userId,
      provider: ask.provider,
      grant: ask.grantId,
      operation: ask.operation,
      details: { approval: record.id, approver: ask.approver, method: action.method, expiresAt: record.expiresAt },
    });
    await store.create(record, record.expiresAt + RETAIN_AFTER_EXPIRY_MS);
    this.#emit('approval.requested', record, {});
    throw new AuthorizationPending('operation awaits approval', { authReqId, expiresIn: ttlSeconds, interval: pollIntervalSeconds });
  }

  /** One poll: the approved request, once; otherwise the CIBA answer as an error. */
  async collect(authReqId: string, binding: ApprovalBinding): Promise<ApprovalRecord> {
    const polled = await this.options.store.poll(approvalIdOf(authReqId), binding, this.#now());
    switch (polled.outcome) {
      case 'approved':
        return polled.record;
      case 'pending':
        throw new AuthorizationPending('approval still pending');
      case 'slow_down':
        throw new SlowDown('polled within the interval');
      case 'denied':
        throw new ApprovalDenied('approver denied the request');
      case 'expired':
        throw new ExpiredToken('approval request expired');
      default:
        // Unknown, spent, or bound to another gateway, agent or user: one answer for all.
        throw new InvalidGrant(`auth_req_id ${polled.outcome}`).because('auth_req_id is unknown, spent or not issued to this caller');
    }
  }

  get(id: string): Promise<ApprovalView | null> {
    return this.options.store.get(id, this.#now());
  }

  pendingForUser(userId: string): Promise<ApprovalView[]> {
    return this.options.store.pendingForUser(userId, this.#now());
  }

  pendingForAdmins(): Promise<ApprovalView[]> {
    return this.options.store.pendingForAdmins(this.#now());
  }

  /**
   * Approves or denies. The decision is audited before it is made (a decision that then does
   * not land, already decided or expired, gets an `error` record saying so), so the trail never
   * misses one that did.
   */
  async decide(id: string, decision: 'approved' | 'denied', by: Decider, requestId: string): Promise<DecideOutcome> {
    const { store, audit } = this.options;
    const view = await store.get(id, this.#now());
    if (!view || view.record.approver !== by.role || (by.role === 'user' && view.record.userId !== by.id)) return 'unknown';
    const { record } = view;
    const event = {
      action: 'approval.decide',
      requestId,
      actor: `${by.role}:${by.id}`,
      gateway: record.gateway,
      agent: record.agent,
      user: record.userId,
      provider: record.provider,
      grant: record.grantId,
      operation: record.operation,
      details: { approval: id, decision },
    } as const;
    if (view.status !== 'pending') {
      await audit.record({ ...event, decision: 'error', reason: view.status === 'expired' ? 'expired' : 'already_decided' });
      return view.status === 'expired' ? 'expired' : 'already_decided';
    }
    await audit.record({ ...event, decision: decision === 'approved' ? 'allow' : 'deny' });
    const outcome = await store.decide(id, decision, by, this.#now());
    if (outcome !== 'decided') await audit.record({ ...event, decision: 'error', reason: outcome });
    else this.#emit('approval.decided', record, { decision, decidedBy: by.role });
    return outcome;
  }

  #emit(type: ApprovalEvent['type'], record: ApprovalRecord, extra: Record<string, string>): void {
    const data = { approval: record.id, approver: record.approver, agent: record.agent, provider: record.provider, operation: record.operation, ...extra };
    try {
      Promise.resolve(this.options.events?.emit({ type, data })).catch(() => {});
    } catch {
      // Best effort: delivery has its own queue and retries; a decision never depends on it.
    }
  }
}
