/**
 * Errors of linking, consent and sign-in, by stable code. The services of this
 * folder throw only these; the pages turn each code into what a browser sees
 * (pages/page-error.ts). `detail` reaches logs only and never
 * quotes the request or an upstream answer.
 */

/** Every code with the detail logged when the thrower gives none. */
const DEFAULT_DETAIL = {
  TV_LINK_UNKNOWN_PROVIDER: 'unknown provider',
  TV_LINK_STATE_MISSING: 'callback without state',
  /** Never issued, already taken (a replay: `take` is single-use) or dropped by the store's TTL: one answer for all three. */
  TV_LINK_STATE_INVALID: 'state unknown, expired or already used',
  /** Still in the store but past the lifetime recorded with it (link-state.ts). */
  TV_LINK_STATE_EXPIRED: 'state past its lifetime',
  /** The state was issued to another browser session or user. */
  TV_LINK_STATE_OTHER_SESSION: 'state from another session',
  /** Mix-up: the answer arrived on the callback of another provider than the request went to. */
  TV_LINK_STATE_OTHER_PROVIDER: 'link state issued for another provider',
  /** The provider said no: `error` on the callback, or `invalid_grant` for the code (also a wrong PKCE verifier). */
  TV_LINK_PROVIDER_REFUSED: 'provider refused',
  TV_LINK_PROVIDER_TIMEOUT: 'provider timeout',
  /** Unreachable, a 5xx, or an answer that fails openid-client's checks (state, `iss` of RFC 9207, nonce). */
  TV_LINK_PROVIDER_FAILED: 'provider failed',
  TV_LINK_NO_REFRESH_TOKEN: 'no refresh token issued',
  TV_LINK_NO_SUBJECT: 'no upstream subject',
  /** Missing, or not this user's on this provider: one answer for both. */
  TV_LINK_UNKNOWN_GRANT: 'grant not found or not owned',
  /** A consent choice outside the admin ceiling, or for an agent the page does not show. */
  TV_LINK_OPERATION_NOT_PERMITTED: 'operation outside the admin ceiling',
  TV_LINK_SIGN_IN_FAILED: 'sign-in at the IdP failed',
} as const;

export type LinkErrorCode = keyof typeof DEFAULT_DETAIL;

export class LinkError extends Error {
  override name = 'LinkError';

  constructor(
    readonly code: LinkErrorCode,
    /** Logs only. */
    readonly detail: string = DEFAULT_DETAIL[code],
  ) {
    super(detail);
  }
}
