/** Store failures, by type: callers classify with instanceof or by code, never by message text. */
import type { ErrorCode } from '../errors.js';

/** A create whose id already exists. */
export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
  readonly code: ErrorCode = 'TV_STORE_CONFLICT';
}

/** The backend did not answer in time or is unreachable. Callers fail closed (503). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
  /** Subclasses (audit overload, contention) may name their cause with a code of their own. */
  readonly code: ErrorCode = 'TV_STORE_UNAVAILABLE';
}
