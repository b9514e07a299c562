/**
 * Errors of the consent pages: each carries a code of the vault's table
 * (errors.ts), which gives its status, a static title and message that are
 * safe to show, and an internal detail for logs only. Nothing from the request
 * or an upstream answer is ever shown. Any other error reaching a page is shown
 * as the page of its classified code (`toPageError`).
 */
import { OAuthError, type ErrorCode } from '../../errors.js';
import type { LinkError } from '../errors.js';

export class PageError extends OAuthError {
  constructor(
    readonly code: ErrorCode,
    readonly title: string,
    readonly userMessage: string,
    /** Logs and audit only. */
    detail: string,
  ) {
    super(detail);
  }
}

export const pageErrors = {
  stateMissing: (detail = 'callback without state') =>
    new PageError(
      'TV_LINK_STATE_MISSING',
      'Link not completed',
      'The response from the provider did not belong to a request from this page. Nothing was changed. Start again from your connections.',
      detail,
    ),
  stateUnknown: (detail = 'state unknown, expired or already used') =>
    new PageError(
      'TV_LINK_STATE_INVALID',
      'Link expired',
      'This sign-in or link request has expired or was already used. Nothing was changed. Start again from your connections.',
      detail,
    ),
  stateMismatch: (detail: string) =>
    new PageError(
      'TV_LINK_STATE_OTHER_SESSION',
      'Link not completed',
      'This response belongs to a request made in another browser session. Nothing was changed. Start again from your connections.',
      detail,
    ),
  providerRefused: (detail: string) =>
    new PageError('TV_LINK_PROVIDER_REFUSED', 'Link cancelled', 'The provider did not grant access. Nothing was changed.', detail),
  providerTimeout: (detail: string) =>
    new PageError('TV_LINK_PROVIDER_TIMEOUT', 'Provider not answering', 'The provider did not answer in time. Nothing was changed. Try again later.', detail),
  providerFailed: (detail: string) =>
    new PageError('TV_LINK_PROVIDER_FAILED', 'Provider error', 'The provider did not complete the link. Nothing was changed. Try again later.', detail),
  noRefreshToken: (detail = 'no refresh token issued') =>
    new PageError(
      'TV_LINK_NO_REFRESH_TOKEN',
      'Link not possible',
      'The provider did not allow offline access, so the vault cannot act for you later. Nothing was saved; ask your administrator to enable refresh tokens for this app.',
      detail,
    ),
  noSubject: (detail = 'no upstream subject') =>
    new PageError('TV_LINK_NO_SUBJECT', 'Link not possible', 'The provider did not say which account was linked. Nothing was saved.', detail),
  unknownProvider: (detail = 'unknown provider') =>
    new PageError('TV_LINK_UNKNOWN_PROVIDER', 'Unknown provider', 'There is no such provider. Nothing was changed.', detail),
  unknownGrant: (detail = 'grant not found or not owned') =>
    new PageError('TV_LINK_UNKNOWN_GRANT', 'Connection not found', 'That connection does not exist or is not yours. Nothing was changed.', detail),
  badReturnTo: (detail = 'off-origin returnTo') =>
    new PageError('TV_LINK_UNSAFE_RETURN_TO', 'Unsafe address', 'The address to return to is not on this site. Nothing was changed.', detail),
  badForm: (detail = 'form validation failed') =>
    new PageError('TV_LINK_BAD_FORM', 'Request not accepted', 'The form was not valid. Nothing was changed. Reload the page and try again.', detail),
  notPermitted: (detail: string) =>
    new PageError(
      'TV_LINK_OPERATION_NOT_PERMITTED',
      'Not permitted',
      'One of the chosen operations is not allowed for that agent. Nothing was changed.',
      detail,
    ),
  csrf: (detail = 'csrf token missing or invalid') =>
    new PageError(
      'TV_CSRF_REJECTED',
      'Request refused',
      'This request did not come from a page of this site. Nothing was changed. Reload the page and try again.',
      detail,
    ),
  signInRequired: (detail = 'no session') =>
    new PageError('TV_LINK_SIGN_IN_REQUIRED', 'Signed out', 'Your session has ended. Sign in again; nothing was changed.', detail),
  signInFailed: (detail: string) =>
    new PageError('TV_LINK_SIGN_IN_FAILED', 'Sign-in failed', 'Sign-in at your organisation did not complete. Try again.', detail),
  unavailable: (detail: string) =>
    new PageError(
      'TV_TEMPORARILY_UNAVAILABLE',
      'Temporarily unavailable',
      'The vault cannot complete this right now. Nothing was changed. Try again in a moment.',
      detail,
    ),
  internal: (detail: string) => new PageError('TV_SERVER_ERROR', 'Something went wrong', 'The request failed. Try again.', detail),
};

/** The page of each code a page can be refused with; a PageError brings its own. */
const PAGE_FOR_CODE: Partial<Record<ErrorCode, (detail: string) => PageError>> = {
  TV_INVALID_REQUEST: pageErrors.badForm,
  TV_PAYLOAD_TOO_LARGE: pageErrors.badForm,
  TV_UNSUPPORTED_MEDIA_TYPE: pageErrors.badForm,
  TV_CSRF_REJECTED: pageErrors.csrf,
  TV_LINK_SIGN_IN_REQUIRED: pageErrors.signInRequired,
  TV_LINK_SIGN_IN_FAILED: pageErrors.signInFailed,
  TV_LINK_BAD_FORM: pageErrors.badForm,
  TV_LINK_UNSAFE_RETURN_TO: pageErrors.badReturnTo,
  TV_LINK_STATE_MISSING: pageErrors.stateMissing,
  TV_LINK_STATE_INVALID: pageErrors.stateUnknown,
  TV_LINK_STATE_EXPIRED: pageErrors.stateUnknown,
  TV_LINK_STATE_OTHER_SESSION: pageErrors.stateMismatch,
  // A mix-up says what a foreign session's state says: nothing about which provider was expected.
  TV_LINK_STATE_OTHER_PROVIDER: pageErrors.stateMismatch,
  TV_LINK_UNKNOWN_PROVIDER: pageErrors.unknownProvider,
  TV_LINK_UNKNOWN_GRANT: pageErrors.unknownGrant,
  TV_LINK_OPERATION_NOT_PERMITTED: pageErrors.notPermitted,
  TV_LINK_PROVIDER_REFUSED: pageErrors.providerRefused,
  TV_LINK_PROVIDER_TIMEOUT: pageErrors.providerTimeout,
  TV_LINK_PROVIDER_FAILED: pageErrors.providerFailed,
  TV_LINK_NO_REFRESH_TOKEN: pageErrors.noRefreshToken,
  TV_LINK_NO_SUBJECT: pageErrors.noSubject,
};

/**
 * The page for a refusal as the error handler classified it (http/error-handler.ts): a PageError
 * as it is, a known code as its page, any other 503 as "try again" and the rest as an opaque failure.
 */
export function toPageError(refusal: OAuthError): PageError {
  if (refusal instanceof PageError) return refusal;
  const page = PAGE_FOR_CODE[refusal.code];
  if (page) return page(refusal.detail);
  return refusal.status === 503 ? pageErrors.unavailable(refusal.detail) : pageErrors.internal(refusal.detail);
}

/** The page of a linking, consent or sign-in error (linking/errors.ts), as the error handler would render it. */
export function linkErrorPage(err: LinkError): PageError {
  const page = PAGE_FOR_CODE[err.code];
  return page ? page(err.detail) : pageErrors.internal(err.detail);
}
