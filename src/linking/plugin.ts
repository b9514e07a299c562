/**
 * The consent pages on the public listener, as one encapsulated plugin:
 * cookies, form bodies, security headers (CSP with `frame-ancestors 'none'`,
 * `Referrer-Policy: no-referrer`, `Cache-Control: no-store` on every answer),
 * sessions, CSRF on every state-changing POST, HTML error pages, and the routes.
 */
import fastifyCookie from '@fastify/cookie';
import fastifyCsrf from '@fastify/csrf-protection';
import fastifyFormbody from '@fastify/formbody';
import fastifyHelmet from '@fastify/helmet';
import type { FastifyPluginAsync, preHandlerHookHandler } from 'fastify';
import type { Config } from '../config/schema.js';
import type { ErrorPageRenderer } from '../http/error-handler.js';
import type { ProviderCatalog } from '../providers/catalog.js';
import { type Stores } from '../store/stores.js';
import { connectionRoutes } from './connection-routes.js';
import { approvalPages } from './approval-routes.js';
import type { Approvals } from '../approvals/approval-service.js';
import type { ConsentService } from './consent-service.js';
import { IdpClient } from './idp-client.js';
import type { LinkService } from './link-service.js';
import { pageErrors, toPageError } from './pages/page-error.js';
import { PAGES_CSS } from './pages/pages-css.js';
import { errorPage } from './pages/views.js';
import { loadSession } from './session.js';
import { SignIn } from './sign-in.js';
import { signInRoutes } from './sign-in-routes.js';

export interface LinkingPluginOptions {
  config: Config;
  stores: Stores;
  catalog: ProviderCatalog;
  links: LinkService;
  consents: ConsentService;
  approvals: Approvals;
  loginClientSecret?: string | undefined;
}

/** Errors on these routes, classified by the listener's error handler, are answered as pages. */
const renderErrorPage: ErrorPageRenderer = (refusal, request) => {
  const page = toPageError(refusal);
  return { status: page.status, html: errorPage(page.title, page.userMessage, request.session !== null) };
};

/** Origins a form on these pages may lead to (CSP form-action also governs the 303 to a provider). */
function formTargets(config: Config, catalog: ProviderCatalog): string[] {
  const origins = new Set<string>();
  for (const provider of catalog.list()) {
    const url = provider.endpoints.authorization ?? provider.endpoints.issuer;
    if (url) origins.add(new URL(url).origin);
  }
  if (config.identity.login) origins.add(new URL(config.identity.login.issuer).origin);
  return [...origins];
}

export const linkingPages: FastifyPluginAsync<LinkingPluginOptions> = async (app, opts) => {
  const { config, stores, catalog, links, consents } = opts;
  const login = config.identity.login;
  const publicUrl = config.publicUrl;
  if (!login || !publicUrl) throw new Error('linking pages need identity.login and publicUrl');
  const { sessionTtlSeconds, stateTtlSeconds } = config.linking;

  await app.register(fastifyCookie);
  await app.register(fastifyFormbody, { bodyLimit: 16_384 });
  await app.register(fastifyHelmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'"],
        formAction: ["'self'", ...formTargets(config, catalog)],
        frameAncestors: ["'none'"],
        baseUri: ["'none'"],
      },
    },
    referrerPolicy: { policy: 'no-referrer' },
  });
  await app.register(fastifyCsrf, { sessionPlugin: '@fastify/session', sessionKey: 'csrfSecret' });

  app.decorateRequest('session', null);
  app.addHook('onRequest', async (request) => loadSession(request, stores.sessions));
  app.addHook('onSend', async (_request, reply, payload) => {
    reply.header('cache-control', 'no-store');
    return payload;
  });
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), errorPage: renderErrorPage };
  });

  // A cross-site POST carries no SameSite=Lax cookie, so it fails the first check; a same-site one without the token fails the second.
  const requireSession: preHandlerHookHandler = (request, _reply, done) => done(request.session ? undefined : pageErrors.signInRequired());
  const requireCsrf: preHandlerHookHandler[] = [requireSession, app.csrfProtection];

  app.get('/assets/pages.css', { schema: { hide: true } }, async (_request, reply) => reply.type('text/css; charset=utf-8').send(PAGES_CSS));

  await app.register(signInRoutes, {
    signIn: new SignIn(new IdpClient(login, opts.loginClientSecret, new URL('/auth/callback', publicUrl).href), stores.oneShot, stateTtlSeconds),
    sessions: stores.sessions,
    publicUrl,
    sessionTtlSeconds,
    stateTtlSeconds,
    requireCsrf,
  });
  await app.register(connectionRoutes, { links, consents, publicUrl, requireCsrf, approvals: opts.approvals });
  await app.register(approvalPages, { approvals: opts.approvals, catalog, requireCsrf });
};
