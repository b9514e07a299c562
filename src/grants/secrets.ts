/**
 * Sealing and opening a grant's secrets. The AAD names the grant, its user and
 * provider, so a ciphertext copied onto another grant (or from the refresh
 * token slot to the access token slot) fails to open.
 */
import type { Envelope, RecordAad } from '../crypto/envelope.js';
import type { Grant } from '../store/grant-store.js';

export type GrantRef = Pick<Grant, 'id' | 'userId' | 'provider'>;

const aad = (kind: 'grant.refresh_token' | 'grant.access_token', grant: GrantRef): RecordAad => ({
  kind,
  grantId: grant.id,
  userId: grant.userId,
  provider: grant.provider,
});

/** The AAD of a grant's refresh token, for jobs that handle the ciphertext without opening it (rewrap). */
export const grantRefreshAad = (grant: GrantRef): RecordAad => aad('grant.refresh_token', grant);

export const sealRefreshToken = (envelope: Envelope, grant: GrantRef, token: string): string => envelope.seal(token, aad('grant.refresh_token', grant));
export const openRefreshToken = (envelope: Envelope, grant: GrantRef & Pick<Grant, 'refreshToken'>): string =>
  envelope.open(grant.refreshToken, aad('grant.refresh_token', grant));
export const sealAccessToken = (envelope: Envelope, grant: GrantRef, token: string): string => envelope.seal(token, aad('grant.access_token', grant));
export const openAccessToken = (envelope: Envelope, grant: GrantRef, ciphertext: string): string => envelope.open(ciphertext, aad('grant.access_token', grant));

/**
 * A rotated refresh token in the local spool (src/store/rotation-spool.ts): its own kind, and the
 * grant version it replaces, so a spooled ciphertext opens only as that rotation of that grant.
 */
const spoolAad = (grant: GrantRef, baseVersion: number): RecordAad => ({
  kind: 'spool.refresh_token',
  grantId: grant.id,
  userId: grant.userId,
  provider: grant.provider,
  baseVersion: String(baseVersion),
});
export const sealSpooledRefreshToken = (envelope: Envelope, grant: GrantRef, baseVersion: number, token: string): string =>
  envelope.seal(token, spoolAad(grant, baseVersion));
export const openSpooledRefreshToken = (envelope: Envelope, grant: GrantRef, baseVersion: number, ciphertext: string): string =>
  envelope.open(ciphertext, spoolAad(grant, baseVersion));
