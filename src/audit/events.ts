/**
 * Audit events (docs/architecture.md#audit-trail). One record per link, exchange (issued or
 * denied), forward, refresh, revocation, kill switch, key rotation and admin
 * action. Token values never appear: only `tokenHmac` (HMAC-SHA-256 under a
 * subkey derived from the audit key, see AuditWriter.tokenHmac).
 */
/** Every kind of audited event (one list: the type, the writer's guard and the query filter use it). */
export const AUDIT_ACTIONS = [
  'grant.link',
  'grant.relink',
  'grant.unlink',
  'grant.consent',
  'grant.status',
  'grant.revoke',
  /** A grant quarantined because a ciphertext of it failed to open (integrity alert). */
  'grant.integrity',
  'upstream.refresh',
  'upstream.revoke',
  'token.exchange',
  'token.introspect',
  'token.forward',
  'killswitch.engage',
  'killswitch.release',
  'key.rotate',
  'key.rewrap',
  'admin.action',
  /** An operation that needs approval was asked for: a pending request (src/approvals/). */
  'approval.request',
  /** A user or admin approved or denied a pending request (`actor` = who). */
  'approval.decide',
] as const;

export type AuditAction = (typeof AUDIT_ACTIONS)[number];

export const AUDIT_DECISIONS = ['allow', 'deny', 'error'] as const;

export type AuditDecision = (typeof AUDIT_DECISIONS)[number];

/** What callers supply; the writer adds time, sequence and chain hashes. */
export interface AuditEventInput {
  action: AuditAction;
  decision: AuditDecision;
  /** Why (internal detail of the error, or a short code such as `consent_missing`). Never a secret. */
  reason?: string;
  requestId?: string;
  /** W3C trace id from `traceparent` (32 hex). */
  traceId?: string;
  gateway?: string;
  agent?: string;
  user?: string;
  provider?: string;
  grant?: string;
  operation?: string;
  /** Who acted, for admin actions and user actions on the consent pages. */
  actor?: string;
  /** `jti` of an operation token (an id, not a secret). */
  jti?: string;
  /** HMAC of a released token value, so a leaked token can be traced to its record. */
  tokenHmac?: string;
  /** Small, non-secret extras (method, path template, status, bytes, duration, counts). */
  details?: Record<string, string | number | boolean>;
}

/** A stored record: the event plus its place in the trail. */
export interface AuditRecord extends AuditEventInput {
  /** The chain it is in (src/store/audit-store.ts auditChainOf). */
  chain: number;
  /** Its position in that chain. */
  seq: number;
  /** ISO 8601 time the writer accepted the event. */
  time: string;
}

export interface AuditWriter {
  /**
   * Append one event to the hash chain and resolve once it is durable in the
   * store (and mirrored to the log). Rejects when it cannot be written: callers
   * fail closed (503) and release nothing.
   */
  record(event: AuditEventInput): Promise<AuditRecord>;
  /** HMAC-SHA-256 (base64url) of a token value under an HKDF subkey of the audit key (never the chain key itself). */
  tokenHmac(token: string): string;
  /** Gives up this writer's home chain to the other writers at once (src/audit/chain-owners.ts); on shutdown. */
  leave?(): Promise<void>;
}
