/**
 * The sign-in's own checks, without HTTP: the `state` must come back on the
 * browser that started the sign-in, is single use, and an IdP refusal or a
 * failed redemption starts no session. The IdP is a scripted stand-in for
 * IdpClient (the integration tests sign in at oidc-provider).
 */
import { expectLinkError } from '../../helpers/link-error.js';
import { describe, expect, it } from 'vitest';
import type { IdpClient, SignInChecks } from '../../../src/linking/idp-client.js';
import { SignIn } from '../../../src/linking/sign-in.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';

function setup(redeem: () => Promise<{ issuer: string; subject: string; displayName: string }>) {
  const redeemed: SignInChecks[] = [];
  const idp = {
    authorizationUrl: async (checks: SignInChecks) => new URL(`https://idp.example/authorize?state=${checks.state}`),
    redeem: async (_callback: URL, checks: SignInChecks) => {
      redeemed.push(checks);
      return redeem();
    },
  } as unknown as IdpClient;
  return { signIn: new SignIn(idp, createMemoryStores().oneShot, 600), redeemed };
}

const alice = async () => ({ issuer: 'https://idp.example', subject: 'alice', displayName: 'Alice' });
const callback = (query: string) => new URL(`/auth/callback?${query}`, 'https://vault.example');

describe('sign-in at the IdP', () => {
  it('signs in the user of the IdP’s answer and returns to where the browser was going, once', async () => {
    const { signIn, redeemed } = setup(alice);
    const { redirect, state } = await signIn.begin('/connections/salesforce');
    expect(redirect.searchParams.get('state')).toBe(state);
    expect(await signIn.complete(callback(`code=c&state=${state}`), state)).toStrictEqual({
      user: { userId: 'https://idp.example#alice', displayName: 'Alice' },
      returnTo: '/connections/salesforce',
    });
    expect(redeemed).toStrictEqual([
      { state, nonce: expect.any(String) as string, codeVerifier: expect.any(String) as string, returnTo: '/connections/salesforce' },
    ]);
    await expectLinkError(signIn.complete(callback(`code=c&state=${state}`), state), 'TV_LINK_STATE_INVALID');
  });

  it('refuses a callback without state, or whose state this browser did not start', async () => {
    const { signIn, redeemed } = setup(alice);
    const { state } = await signIn.begin('/connections');
    const other = await signIn.begin('/connections');
    await expectLinkError(signIn.complete(callback('code=c'), state), 'TV_LINK_STATE_MISSING');
    await expectLinkError(signIn.complete(callback(`code=c&state=${state}`), undefined), 'TV_LINK_STATE_OTHER_SESSION');
    await expectLinkError(signIn.complete(callback(`code=c&state=${state}`), other.state), 'TV_LINK_STATE_OTHER_SESSION');
    await expectLinkError(signIn.complete(callback('code=c&state=forged'), 'forged'), 'TV_LINK_STATE_INVALID');
    expect(redeemed).toStrictEqual([]);
  });

  it('starts no session on an IdP error response or a failed redemption', async () => {
    const refused = setup(alice);
    const first = await refused.signIn.begin('/connections');
    await expectLinkError(refused.signIn.complete(callback(`error=access_denied&state=${first.state}`), first.state), 'TV_LINK_SIGN_IN_FAILED');
    expect(refused.redeemed).toStrictEqual([]);
    const failing = setup(async () => Promise.reject(new Error('nonce mismatch')));
    const second = await failing.signIn.begin('/connections');
    await expectLinkError(failing.signIn.complete(callback(`code=c&state=${second.state}`), second.state), 'TV_LINK_SIGN_IN_FAILED');
  });
});
