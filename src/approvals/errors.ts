/**
 * The answers of a token request for an operation that needs approval, and of a poll for it
 * (OpenID CIBA Core 1.0 §11), as OAuth errors of src/errors.ts's table.
 */
import { OAuthError } from '../errors.js';

/** Still waiting; from /exchange with the request's handle, lifetime and poll interval (CIBA §7.3). */
export class AuthorizationPending extends OAuthError {
  readonly code = 'TV_AUTHORIZATION_PENDING';
  constructor(detail = '', request?: { authReqId: string; expiresIn: number; interval: number }) {
    super(detail);
    if (request) this.extra = { auth_req_id: request.authReqId, expires_in: request.expiresIn, interval: request.interval };
  }
}

export class SlowDown extends OAuthError {
  readonly code = 'TV_SLOW_DOWN';
}

export class ApprovalDenied extends OAuthError {
  readonly code = 'TV_APPROVAL_DENIED';
}

export class ExpiredToken extends OAuthError {
  readonly code = 'TV_EXPIRED_TOKEN';
}

/** Unknown, spent, or another client's, agent's or user's: one answer that reveals nothing. */
export class InvalidGrant extends OAuthError {
  readonly code = 'TV_INVALID_GRANT';
}

/** A decision on a request already decided or expired (admin API). */
export class ApprovalNotPending extends OAuthError {
  readonly code = 'TV_APPROVAL_NOT_PENDING';
}
