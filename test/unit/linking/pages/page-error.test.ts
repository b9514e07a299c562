/**
 * Every link error code shows the page the routes showed before the flow moved
 * into services: the same status and title, with the error's detail kept for the logs.
 */
import { describe, expect, it } from 'vitest';
import { LinkError, type LinkErrorCode } from '../../../../src/linking/errors.js';
import { linkErrorPage, PageError } from '../../../../src/linking/pages/page-error.js';

const PAGES: Record<LinkErrorCode, [number, string]> = {
  TV_LINK_UNKNOWN_PROVIDER: [404, 'Unknown provider'],
  TV_LINK_STATE_MISSING: [400, 'Link not completed'],
  TV_LINK_STATE_INVALID: [400, 'Link expired'],
  TV_LINK_STATE_EXPIRED: [400, 'Link expired'],
  TV_LINK_STATE_OTHER_SESSION: [400, 'Link not completed'],
  TV_LINK_STATE_OTHER_PROVIDER: [400, 'Link not completed'],
  TV_LINK_PROVIDER_REFUSED: [400, 'Link cancelled'],
  TV_LINK_PROVIDER_TIMEOUT: [504, 'Provider not answering'],
  TV_LINK_PROVIDER_FAILED: [502, 'Provider error'],
  TV_LINK_NO_REFRESH_TOKEN: [502, 'Link not possible'],
  TV_LINK_NO_SUBJECT: [502, 'Link not possible'],
  TV_LINK_UNKNOWN_GRANT: [404, 'Connection not found'],
  TV_LINK_OPERATION_NOT_PERMITTED: [400, 'Not permitted'],
  TV_LINK_SIGN_IN_FAILED: [400, 'Sign-in failed'],
};

describe('link error pages', () => {
  it.each(Object.entries(PAGES) as Array<[LinkErrorCode, [number, string]]>)('%s shows %j', (code, [status, title]) => {
    const page = linkErrorPage(new LinkError(code, 'why, for the logs'));
    expect(page).toBeInstanceOf(PageError);
    expect([page.status, page.title, page.detail]).toStrictEqual([status, title, 'why, for the logs']);
  });

  it('says "another browser session" for a mix-up as for a foreign session, and names no provider', () => {
    expect(linkErrorPage(new LinkError('TV_LINK_STATE_OTHER_PROVIDER')).userMessage).toBe(
      linkErrorPage(new LinkError('TV_LINK_STATE_OTHER_SESSION')).userMessage,
    );
  });
});
