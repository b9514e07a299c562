import { StoreUnavailableError } from '../store/errors.js';

/**
 * An event the writer refuses to record: malformed, or a field that looks like
 * a secret. A caller bug, so it is not a 503: the request fails as a server
 * error and nothing is released. The message names the field, never its value.
 */
export class AuditEventError extends TypeError {
  override name = 'AuditEventError';
}

/**
 * Too many events queued behind the store. Extends StoreUnavailableError so
 * the error handler answers 503 and the caller releases nothing (fail closed).
 */
export class AuditOverloadError extends StoreUnavailableError {
  override name = 'AuditOverloadError';
}

/** Other replicas kept winning the chain head for every retry; 503 as well. */
export class AuditContentionError extends StoreUnavailableError {
  override name = 'AuditContentionError';
}

/** A checkpoint whose MAC does not verify under the audit key, or that is malformed. */
export class InvalidCheckpointError extends Error {
  override name = 'InvalidCheckpointError';
}

/**
 * The stored chain head is not an entry this key wrote, or it is behind (or
 * differs from) a checkpoint already signed: truncated or rewritten. Never signed over.
 */
export class AuditTamperError extends Error {
  override name = 'AuditTamperError';
}
