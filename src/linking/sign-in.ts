/**
 * Sign-in to the consent pages at the organisation's IdP (OIDC code + PKCE +
 * nonce, idp-client.ts). The `state` is single use (one-shot store), expires
 * with the configured lifetime, and is bound to the browser that started the
 * sign-in: the route keeps it in a `__Host-` cookie and hands it back here.
 */
import { timingSafeEqual } from 'node:crypto';
import { userIdOf } from '../identity/user-id.js';
import type { OneShotStore } from '../store/session-store.js';
import { LinkError } from './errors.js';
import { IdpClient, type SignInChecks } from './idp-client.js';

interface PendingSignIn extends SignInChecks {
  returnTo: string;
}

const KEY_PREFIX = 'signin:';
const sameValue = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

export class SignIn {
  constructor(
    private readonly idp: IdpClient,
    private readonly oneShot: OneShotStore,
    private readonly stateTtlSeconds: number,
  ) {}

  /** The IdP's authorization URL, and the state the browser must bring back. `returnTo` is a checked local path (return-to.ts). */
  async begin(returnTo: string): Promise<{ redirect: URL; state: string }> {
    const checks = IdpClient.newChecks();
    const redirect = await this.idp.authorizationUrl(checks).catch(() => {
      throw new LinkError('TV_LINK_SIGN_IN_FAILED', 'IdP discovery failed');
    });
    await this.oneShot.put(KEY_PREFIX + checks.state, JSON.stringify({ ...checks, returnTo } satisfies PendingSignIn), this.stateTtlSeconds * 1000);
    return { redirect, state: checks.state };
  }

  /** Redeem the IdP's redirect to `callbackUrl`; `boundState` is the state this browser started with. */
  async complete(callbackUrl: URL, boundState: string | undefined): Promise<{ user: { userId: string; displayName: string }; returnTo: string }> {
    const state = callbackUrl.searchParams.get('state');
    if (!state) throw new LinkError('TV_LINK_STATE_MISSING', 'sign-in callback without state');
    if (!boundState || !sameValue(boundState, state)) throw new LinkError('TV_LINK_STATE_OTHER_SESSION', 'sign-in state not bound to this browser');
    const stored = await this.oneShot.take(KEY_PREFIX + state);
    if (stored === null) throw new LinkError('TV_LINK_STATE_INVALID', 'sign-in state unknown, expired or used');
    const pending = JSON.parse(stored) as PendingSignIn;
    if (callbackUrl.searchParams.get('error')) throw new LinkError('TV_LINK_SIGN_IN_FAILED', 'IdP returned an error');
    const user = await this.idp.redeem(callbackUrl, pending).catch(() => {
      throw new LinkError('TV_LINK_SIGN_IN_FAILED', 'IdP code redemption failed');
    });
    return { user: { userId: userIdOf(user.issuer, user.subject), displayName: user.displayName }, returnTo: pending.returnTo };
  }
}
