/**
 * Errors of the consent pages: each carries a status, a static title and
 * message that are safe to show, and an internal detail for logs only.
 * Nothing from the request or an upstream answer is ever shown.
 */
import type { LinkError, LinkErrorCode } from '../errors.js';

export class PageError extends Error {
  override name = 'PageError';
  constructor(
    readonly status: number,
    readonly title: string,
    readonly userMessage: string,
    /** Logs and audit only. */
    readonly detail: string,
  ) {
    super(detail);
  }
}

export const pageErrors = {
  stateMissing: (detail = 'callback without state') =>
    new PageError(
      400,
      'Link not completed',
      'The response from the provider did not belong to a request from this page. Nothing was changed. Start again from your connections.',
      detail,
    ),
  stateUnknown: (detail = 'state unknown, expired or already used') =>
    new PageError(
      400,
      'Link expired',
      'This sign-in or link request has expired or was already used. Nothing was changed. Start again from your connections.',
      detail,
    ),
  stateMismatch: (detail: string) =>
    new PageError(
      400,
      'Link not completed',
      'This response belongs to a request made in another browser session. Nothing was changed. Start again from your connections.',
      detail,
    ),
  providerRefused: (detail: string) => new PageError(400, 'Link cancelled', 'The provider did not grant access. Nothing was changed.', detail),
  providerTimeout: (detail: string) =>
    new PageError(504, 'Provider not answering', 'The provider did not answer in time. Nothing was changed. Try again later.', detail),
  providerFailed: (detail: string) =>
    new PageError(502, 'Provider error', 'The provider did not complete the link. Nothing was changed. Try again later.', detail),
  noRefreshToken: (detail = 'no refresh token issued') =>
    new PageError(
      502,
      'Link not possible',
      'The provider did not allow offline access, so the vault cannot act for you later. Nothing was saved; ask your administrator to enable refresh tokens for this app.',
      detail,
    ),
  noSubject: (detail = 'no upstream subject') =>
    new PageError(502, 'Link not possible', 'The provider did not say which account was linked. Nothing was saved.', detail),
  unknownProvider: (detail = 'unknown provider') => new PageError(404, 'Unknown provider', 'There is no such provider. Nothing was changed.', detail),
  unknownGrant: (detail = 'grant not found or not owned') =>
    new PageError(404, 'Connection not found', 'That connection does not exist or is not yours. Nothing was changed.', detail),
  badReturnTo: (detail = 'off-origin returnTo') =>
    new PageError(400, 'Unsafe address', 'The address to return to is not on this site. Nothing was changed.', detail),
  badForm: (detail = 'form validation failed') =>
    new PageError(400, 'Request not accepted', 'The form was not valid. Nothing was changed. Reload the page and try again.', detail),
  notPermitted: (detail: string) =>
    new PageError(400, 'Not permitted', 'One of the chosen operations is not allowed for that agent. Nothing was changed.', detail),
  csrf: (detail = 'csrf token missing or invalid') =>
    new PageError(403, 'Request refused', 'This request did not come from a page of this site. Nothing was changed. Reload the page and try again.', detail),
  signInRequired: (detail = 'no session') => new PageError(401, 'Signed out', 'Your session has ended. Sign in again; nothing was changed.', detail),
  signInFailed: (detail: string) => new PageError(400, 'Sign-in failed', 'Sign-in at your organisation did not complete. Try again.', detail),
  unavailable: (detail: string) =>
    new PageError(503, 'Temporarily unavailable', 'The vault cannot complete this right now. Nothing was changed. Try again in a moment.', detail),
  internal: (detail: string) => new PageError(500, 'Something went wrong', 'The request failed. Try again.', detail),
};

const LINK_ERROR_PAGES: Record<LinkErrorCode, (detail: string) => PageError> = {
  TV_LINK_UNKNOWN_PROVIDER: pageErrors.unknownProvider,
  TV_LINK_STATE_MISSING: pageErrors.stateMissing,
  TV_LINK_STATE_INVALID: pageErrors.stateUnknown,
  TV_LINK_STATE_EXPIRED: pageErrors.stateUnknown,
  TV_LINK_STATE_OTHER_SESSION: pageErrors.stateMismatch,
  // The mix-up page says what a foreign session's state says: nothing about which provider was expected.
  TV_LINK_STATE_OTHER_PROVIDER: pageErrors.stateMismatch,
  TV_LINK_PROVIDER_REFUSED: pageErrors.providerRefused,
  TV_LINK_PROVIDER_TIMEOUT: pageErrors.providerTimeout,
  TV_LINK_PROVIDER_FAILED: pageErrors.providerFailed,
  TV_LINK_NO_REFRESH_TOKEN: pageErrors.noRefreshToken,
  TV_LINK_NO_SUBJECT: pageErrors.noSubject,
  TV_LINK_UNKNOWN_GRANT: pageErrors.unknownGrant,
  TV_LINK_OPERATION_NOT_PERMITTED: pageErrors.notPermitted,
  TV_LINK_SIGN_IN_FAILED: pageErrors.signInFailed,
};

/** The page of a linking, consent or sign-in error (errors.ts): its status and text, with the error's detail for the logs. */
export function linkErrorPage(err: LinkError): PageError {
  return LINK_ERROR_PAGES[err.code](err.detail);
}
