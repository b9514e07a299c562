/**
 * Sign-in to the consent pages at the organisation's IdP (sign-in.ts), and
 * sign-out. The sign-in `state` rides in a `__Host-` cookie that binds it to
 * this browser; a new session id is issued at every sign-in.
 */
import type { FastifyPluginAsync, preHandlerHookHandler } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SessionStore } from '../store/session-store.js';
import { pageErrors } from './pages/page-error.js';
import { signedOutPage } from './pages/views.js';
import { safeReturnTo } from './return-to.js';
import { endSession, hostCookie, SIGN_IN_COOKIE, startSession } from './session.js';
import type { SignIn } from './sign-in.js';

export interface SignInRoutesOptions {
  signIn: SignIn;
  sessions: SessionStore;
  publicUrl: string;
  sessionTtlSeconds: number;
  stateTtlSeconds: number;
  /** Session + CSRF checks of state-changing POSTs. */
  requireCsrf: preHandlerHookHandler[];
}

const loginQuery = z.object({ returnTo: z.string().max(2048).optional() });
const callbackQuery = z.object({ state: z.string().max(512).optional(), error: z.string().max(256).optional() });

export const signInRoutes: FastifyPluginAsync<SignInRoutesOptions> = async (app, opts) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { signIn, sessions } = opts;

  routes.get('/', { schema: { hide: true } }, async (_request, reply) => reply.redirect('/connections', 303));

  routes.get('/login', { schema: { hide: true, querystring: loginQuery } }, async (request, reply) => {
    const requested = request.query.returnTo;
    const returnTo = requested === undefined ? '/connections' : safeReturnTo(requested);
    if (returnTo === null) throw pageErrors.badReturnTo();
    if (request.session) return reply.redirect(returnTo, 303);
    const { redirect, state } = await signIn.begin(returnTo);
    reply.setCookie(SIGN_IN_COOKIE, state, hostCookie(opts.stateTtlSeconds));
    return reply.redirect(redirect.href, 303);
  });

  routes.get('/auth/callback', { schema: { hide: true, querystring: callbackQuery } }, async (request, reply) => {
    const bound = request.cookies[SIGN_IN_COOKIE];
    reply.clearCookie(SIGN_IN_COOKIE, hostCookie(0));
    const { user, returnTo } = await signIn.complete(new URL(request.url, opts.publicUrl), bound);
    await startSession(request, reply, sessions, user, opts.sessionTtlSeconds);
    return reply.redirect(returnTo, 303);
  });

  routes.post('/logout', { schema: { hide: true }, preHandler: opts.requireCsrf }, async (request, reply) => {
    await endSession(request, reply, sessions);
    return reply.redirect('/signed-out', 303);
  });

  routes.get('/signed-out', { schema: { hide: true } }, async (_request, reply) => reply.type('text/html; charset=utf-8').send(signedOutPage()));
};
