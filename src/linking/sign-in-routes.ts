/**
 * Sign-in to the consent pages at the organisation's IdP (OIDC code + PKCE +
 * nonce), and sign-out. The sign-in `state` is single-use, expires, and is
 * bound to this browser by a `__Host-` cookie.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, preHandlerHookHandler } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { userIdOf } from '../identity/user-id.js';
import type { OneShotStore, SessionStore } from '../store/session-store.js';
import { IdpClient, type SignInChecks } from './idp-client.js';
import { pageErrors } from './pages/page-error.js';
import { safeReturnTo } from './return-to.js';
import { endSession, hostCookie, SIGN_IN_COOKIE, startSession } from './session.js';
import { signedOutPage } from './pages/views.js';

export interface SignInRoutesOptions {
  idp: IdpClient;
  sessions: SessionStore;
  oneShot: OneShotStore;
  publicUrl: string;
  sessionTtlSeconds: number;
  stateTtlSeconds: number;
  /** Session + CSRF checks of state-changing POSTs. */
  requireCsrf: preHandlerHookHandler[];
}

interface PendingSignIn extends SignInChecks {
  returnTo: string;
}

const sameValue = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

const loginQuery = z.object({ returnTo: z.string().max(2048).optional() });
const callbackQuery = z.object({ state: z.string().max(512).optional(), error: z.string().max(256).optional() });

export const signInRoutes: FastifyPluginAsync<SignInRoutesOptions> = async (app, opts) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { idp, sessions, oneShot } = opts;

  routes.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/connections', 303));

  routes.get('/login', { schema: { hide: true, querystring: loginQuery } }, async (request, reply) => {
    const requested = request.query.returnTo;
    const returnTo = requested === undefined ? '/connections' : safeReturnTo(requested);
    if (returnTo === null) throw pageErrors.badReturnTo();
    if (request.session) return reply.redirect(returnTo, 303);
    const checks = IdpClient.newChecks();
    const url = await idp.authorizationUrl(checks).catch(() => {
      throw pageErrors.signInFailed('IdP discovery failed');
    });
    await oneShot.put(`signin:${checks.state}`, JSON.stringify({ ...checks, returnTo } satisfies PendingSignIn), opts.stateTtlSeconds * 1000);
    reply.setCookie(SIGN_IN_COOKIE, checks.state, hostCookie(opts.stateTtlSeconds));
    return reply.redirect(url.href, 303);
  });

  routes.get('/auth/callback', { schema: { hide: true, querystring: callbackQuery } }, async (request, reply) => {
    const { state, error } = request.query;
    const bound = request.cookies[SIGN_IN_COOKIE];
    reply.clearCookie(SIGN_IN_COOKIE, hostCookie(0));
    if (!state) throw pageErrors.stateMissing('sign-in callback without state');
    if (!bound || !sameValue(bound, state)) throw pageErrors.stateMismatch('sign-in state not bound to this browser');
    const stored = await oneShot.take(`signin:${state}`);
    if (stored === null) throw pageErrors.stateUnknown('sign-in state unknown, expired or used');
    const pending = JSON.parse(stored) as PendingSignIn;
    if (error) throw pageErrors.signInFailed('IdP returned an error');
    const user = await idp.redeem(new URL(request.url, opts.publicUrl), pending).catch(() => {
      throw pageErrors.signInFailed('IdP code redemption failed');
    });
    await startSession(request, reply, sessions, { userId: userIdOf(user.issuer, user.subject), displayName: user.displayName }, opts.sessionTtlSeconds);
    return reply.redirect(pending.returnTo, 303);
  });

  routes.post('/logout', { schema: { hide: true }, preHandler: opts.requireCsrf }, async (request, reply) => {
    await endSession(request, reply, sessions);
    return reply.redirect('/signed-out', 303);
  });

  routes.get('/signed-out', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(signedOutPage()));
};
