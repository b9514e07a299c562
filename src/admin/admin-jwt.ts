/**
 * Admin bearer JWTs from the organisation's IdP (the security team's second way in: docs/architecture.md#callers-and-identities).
 *
 * Accepted only with an asymmetric algorithm from the configured list, from the
 * configured issuer, for the configured audience, unexpired, and carrying the
 * admin group in the group claim. Keys come from the configured JWKS only:
 * never from the token (`jku`, `x5u`, embedded `jwk` are ignored, RFC 8725 §3.10).
 */
import { jwtVerify } from 'jose';
import type { Config } from '../config/schema.js';
import { loadJwks } from '../identity/jwks.js';

export type AdminJwtConfig = NonNullable<Config['admins']['jwt']>;

const CLOCK_SKEW_SECONDS = 30;

/** Why a bearer token was refused: logs and audit only, never the response. */
export class AdminJwtError extends Error {
  override name = 'AdminJwtError';
  readonly code = 'TV_ADMIN_JWT_REJECTED';
}

export interface AdminJwtVerifier {
  /** The admin id `jwt:<iss>#<sub>`, or throws AdminJwtError. */
  verify(token: string): Promise<string>;
}

export async function createAdminJwtVerifier(config: AdminJwtConfig): Promise<AdminJwtVerifier> {
  const keys = await loadJwks(config);
  return {
    async verify(token) {
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(token, keys, {
          issuer: config.issuer,
          audience: config.audience,
          algorithms: config.algorithms,
          clockTolerance: CLOCK_SKEW_SECONDS,
          requiredClaims: ['exp', 'sub'],
        }));
      } catch (err) {
        throw new AdminJwtError(`admin jwt rejected: ${(err as { code?: string }).code ?? 'invalid'}`);
      }
      const groups = payload[config.groupClaim];
      const member = Array.isArray(groups) ? groups.includes(config.group) : groups === config.group;
      if (!member) throw new AdminJwtError('admin jwt lacks the admin group');
      if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) throw new AdminJwtError('admin jwt sub unusable');
      return `jwt:${config.issuer}#${payload.sub}`;
    },
  };
}
