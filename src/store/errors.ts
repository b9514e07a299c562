/** Store failures, by type: callers classify with instanceof, never by message text. */
/** A create whose id already exists. */
export class StoreConflictError extends Error {
  override name = 'StoreConflictError';
}

/** The backend did not answer in time or is unreachable. Callers fail closed (503). */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}
