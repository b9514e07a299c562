import type { Grant, GrantFilter } from './grant-store.js';

/** Whether a grant satisfies every field of an admin listing filter (fields are ANDed). */
export function matchesGrantFilter(grant: Grant, filter: GrantFilter): boolean {
  if (filter.userId !== undefined && grant.userId !== filter.userId) return false;
  if (filter.provider !== undefined && grant.provider !== filter.provider) return false;
  if (filter.status !== undefined && grant.status !== filter.status) return false;
  if (filter.agent !== undefined) {
    const ops = grant.consent[filter.agent];
    if (ops === undefined || ops.length === 0) return false;
  }
  return true;
}

/**
 * Listing cursors are the last grant id of the previous page. They are
 * base64url-encoded so callers treat them as opaque and ids with odd
 * characters survive a query string.
 */
export function encodeCursor(lastId: string): string {
  return Buffer.from(lastId, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | undefined): string | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  return Buffer.from(cursor, 'base64url').toString('utf8');
}
