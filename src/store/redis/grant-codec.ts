import { isGrantStatus, type Grant, type GrantStatus, type GrantTombstone } from '../grant-store.js';

/** Hash field prefix for consent: `c:<agent>` holds that agent's operations as a JSON array. */
export const CONSENT_FIELD_PREFIX = 'c:';
/** Hash field prefix for `e:<agent>`: how many times that agent's consent changed (Grant.consentEpochs). */
export const CONSENT_EPOCH_FIELD_PREFIX = 'e:';

/**
 * A grant is a Redis hash so the scripts can compare and bump `version` or
 * touch one agent's consent without decoding (and re-encoding, with cjson's
 * lossy number formatting) the whole record.
 */
export function encodeGrant(grant: Grant): string[] {
  const out = [
    'id',
    grant.id,
    'userId',
    grant.userId,
    'provider',
    grant.provider,
    'upstreamSubject',
    grant.upstreamSubject,
    'scopes',
    JSON.stringify(grant.scopes),
    'status',
    grant.status,
    'refreshToken',
    grant.refreshToken,
    'version',
    String(grant.version),
    'createdAt',
    String(grant.createdAt),
    'updatedAt',
    String(grant.updatedAt),
  ];
  if (grant.instanceUrl !== undefined) out.push('instanceUrl', grant.instanceUrl);
  for (const [agent, epoch] of Object.entries(grant.consentEpochs ?? {})) out.push(CONSENT_EPOCH_FIELD_PREFIX + agent, String(epoch));
  for (const [agent, operations] of Object.entries(grant.consent)) {
    if (operations.length > 0) out.push(CONSENT_FIELD_PREFIX + agent, JSON.stringify(operations));
  }
  return out;
}

/** Inverse of encodeGrant; null for the empty reply HGETALL gives for a missing key. */
export function decodeGrant(hash: Record<string, string>): Grant | null {
  const id = hash['id'];
  if (id === undefined) return null;
  const consent: Record<string, string[]> = {};
  let consentEpochs: Record<string, number> | undefined;
  for (const field in hash) {
    if (field.startsWith(CONSENT_FIELD_PREFIX)) {
      consent[field.slice(CONSENT_FIELD_PREFIX.length)] = JSON.parse(hash[field] ?? '[]') as string[];
    } else if (field.startsWith(CONSENT_EPOCH_FIELD_PREFIX)) {
      (consentEpochs ??= {})[field.slice(CONSENT_EPOCH_FIELD_PREFIX.length)] = Number(hash[field]);
    }
  }
  const grant: Grant = {
    id,
    userId: hash['userId'] ?? '',
    provider: hash['provider'] ?? '',
    upstreamSubject: hash['upstreamSubject'] ?? '',
    scopes: JSON.parse(hash['scopes'] ?? '[]') as string[],
    status: statusOf(hash['status']),
    refreshToken: hash['refreshToken'] ?? '',
    version: Number(hash['version']),
    consent,
    createdAt: Number(hash['createdAt']),
    updatedAt: Number(hash['updatedAt']),
  };
  const instanceUrl = hash['instanceUrl'];
  if (instanceUrl !== undefined) grant.instanceUrl = instanceUrl;
  if (consentEpochs !== undefined) grant.consentEpochs = consentEpochs;
  return grant;
}

/** A status this vault never writes can only be a tampered record: quarantined, never trusted. */
function statusOf(stored: string | undefined): GrantStatus {
  if (stored === undefined) return 'revoked';
  return isGrantStatus(stored) ? stored : 'integrity_error';
}

/** A stored tombstone, or null for a missing or malformed value (Redis is not trusted to hold only what the vault wrote). */
export function decodeTombstone(json: string | null): GrantTombstone | null {
  if (json === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const t = value as Record<string, unknown>;
  const strings = ['grantId', 'userId', 'provider', 'upstreamSubject', 'reason', 'revokedBy'] as const;
  if (strings.some((k) => typeof t[k] !== 'string') || typeof t['revokedAt'] !== 'number') return null;
  if (t['status'] !== 'revoked' || (t['revokedByRole'] !== 'user' && t['revokedByRole'] !== 'admin')) return null;
  return {
    grantId: t['grantId'] as string,
    userId: t['userId'] as string,
    provider: t['provider'] as string,
    upstreamSubject: t['upstreamSubject'] as string,
    status: 'revoked',
    revokedAt: t['revokedAt'],
    reason: t['reason'] as string,
    revokedBy: t['revokedBy'] as string,
    revokedByRole: t['revokedByRole'],
  };
}
