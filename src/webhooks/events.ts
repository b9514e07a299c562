/**
 * The events the vault sends to configured webhook endpoints, and the one interface every
 * domain uses to send them. Payloads carry ids and machine reasons only: grant, user, agent,
 * provider, operation, approval ids (the same fields an audit record names), never a token, a
 * ciphertext, a secret or free text an admin or user typed.
 */
import type { WEBHOOK_EVENTS } from '../config/schema.js';

/** Why a grant can no longer be used without the user linking the account again. */
export type RelinkReason = 'invalid_grant' | 'refresh_answer_lost' | 'integrity_error';

/** Why a grant was retired: the user unlinked it, linked the same account again, or the security team revoked it. */
export type RevokeReason = 'unlinked' | 'relinked' | 'revoked_by_admin';

/** What an approval event names (src/approvals/approval-service.ts builds it): never the bearer `auth_req_id`. */
export interface ApprovalEventData {
  /** The request's id: the SHA-256 of its `auth_req_id`. */
  approval: string;
  /** Who must decide: the user on the consent pages or the security team. */
  approver: 'user' | 'admin';
  agent: string;
  provider: string;
  operation: string;
}

/** Every event, by its Standard Webhooks `type`. */
export type WebhookEvent =
  | { type: 'approval.requested'; data: ApprovalEventData }
  | { type: 'approval.decided'; data: ApprovalEventData & { decision: 'approved' | 'denied'; decidedBy: 'user' | 'admin' } }
  | { type: 'grant.needs_relink'; data: { grant: string; user: string; provider: string; reason: RelinkReason } }
  | { type: 'grant.revoked'; data: { grant: string; user: string; provider: string; reason: RevokeReason } }
  | { type: 'kill_switch.changed'; data: { scope: string; target: string; engaged: boolean; epoch: number } };

export type WebhookEventType = WebhookEvent['type'];

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
/** Compile-time check: the event types endpoints may subscribe to (src/config/schema.ts) are exactly these. */
export const CONFIG_NAMES_EVERY_EVENT: Same<WebhookEventType, (typeof WEBHOOK_EVENTS)[number]> = true;

/**
 * Queues an event for every endpoint subscribed to its type. Call it once the state change it
 * reports is durable. It never rejects: a queue that cannot be written is logged and counted,
 * and the caller's request goes on (webhooks report, they never decide).
 */
export interface WebhookEmitter {
  emit(event: WebhookEvent): Promise<void>;
}

/** The emitter when no endpoint is configured. */
export const noWebhooks: WebhookEmitter = { emit: async () => {} };
