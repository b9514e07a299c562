import { StoreUnavailableError } from '../store/errors.js';

/**
 * An event the writer refuses to record: malformed, or a field that looks like
 * a secret. A caller bug, so it is not a 503: the request fails as a server
 * error and nothing is released. The message names the field, never its value.
 */
export class AuditEventError extends TypeError {
  override name = 'AuditEventError';
  readonly code = 'TV_AUDIT_EVENT_INVALID';
}

/**
 * Too many events queued behind the store: 503 (errors.ts), and the caller
 * releases nothing (fail closed). A StoreUnavailableError for callers that
 * retry or give up on an unavailable store.
 */
export class AuditOverloadError extends StoreUnavailableError {
  override name = 'AuditOverloadError';
  override readonly code = 'TV_AUDIT_OVERLOAD';
}

/** Other replicas kept winning the chain head for every retry; 503 as well. */
export class AuditContentionError extends StoreUnavailableError {
  override name = 'AuditContentionError';
  override readonly code = 'TV_AUDIT_CONTENTION';
}

/** A checkpoint whose MAC does not verify under the audit key, or that is malformed. */
export class InvalidCheckpointError extends Error {
  override name = 'InvalidCheckpointError';
  readonly code = 'TV_AUDIT_CHECKPOINT_INVALID';
}

/**
 * A stored chain head is not an entry this key wrote, or it is behind (or
 * differs from) a checkpoint already signed: truncated or rewritten. Never signed over.
 */
export class AuditTamperError extends Error {
  override name = 'AuditTamperError';
  readonly code = 'TV_AUDIT_TAMPERED';

  constructor(
    message: string,
    /** The chain found tampered with. */
    readonly chain: number,
  ) {
    super(message);
  }
}
