/**
 * The connections pages: list, one provider (also the deep link of an
 * exchange's `consent_required`, answered with Approve or Deny) with each
 * connection's agents and recent uses, link + per-provider callback, consent,
 * revoking one agent, and unlink after a confirmation page. Every POST needs
 * the session and its CSRF token and answers 303. A consent change that needs
 * upstream scopes the grant lacks becomes a re-link asking for them, and is
 * made when that link completes.
 * The routes parse, call the link flow (link-service.ts) or the consent
 * service (consent-service.ts), and render.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Actor, RevocationOutcome } from '../grants/retire.js';
import { providerId as providerIdSchema } from '../providers/schema.js';
import type { ConsentChoice, ConsentOutcome, ConsentService } from './consent-service.js';
import type { LinkOutcome, LinkService } from './link-service.js';
import { pageErrors } from './pages/page-error.js';
import { connectionsPage, providerPage, RESULTS, unlinkConfirmPage, type Result, type Viewer } from './pages/views.js';
import type { ActiveSession } from './session.js';
import type { Approvals } from '../approvals/approval-service.js';

export interface ConnectionRoutesOptions {
  links: LinkService;
  consents: ConsentService;
  publicUrl: string;
  requireCsrf: preHandlerHookHandler[];
  /** For the count of requests awaiting this user's approval. */
  approvals: Pick<Approvals, 'pendingForUser'>;
}

const params = z.object({ provider: providerIdSchema });
const formValue = z.string().max(1024);
const repeated = z
  .union([formValue, z.array(formValue).max(200)])
  .optional()
  .transform((v) => (v === undefined ? [] : Array.isArray(v) ? v : [v]));
const csrfField = { _csrf: z.string().max(256).optional() };
const linkBody = z.object({ ...csrfField, agent: z.string().max(512).optional(), operation: z.string().max(200).optional() });
const grantBody = z.object({ ...csrfField, grant: z.string().min(1).max(64) });
const consentBody = grantBody.extend({ consent: repeated });
const revokeAgentBody = grantBody.extend({ agent: z.string().min(1).max(512) });
const answerBody = z.object({ ...csrfField, agent: z.string().min(1).max(512), operation: z.string().min(1).max(200) });
const approveBody = answerBody.extend({ grant: z.string().min(1).max(64) });
const unlinkQuery = z.object({ grant: z.string().min(1).max(64) });
const pageQuery = z.object({
  agent: z.string().max(512).optional(),
  operation: z.string().max(200).optional(),
  result: z.enum(Object.keys(RESULTS) as [Result, ...Result[]]).optional(),
});
const callbackQuery = z.object({ state: z.string().max(512).optional(), error: z.string().max(256).optional() });

/** A consent checkbox's value is `<operation> <agent id>` (views.ts). */
function consentChoice(value: string): ConsentChoice {
  const space = value.indexOf(' ');
  return space > 0 ? { operation: value.slice(0, space), agent: value.slice(space + 1) } : { operation: value, agent: '' };
}

/** The signed-in session; GET pages send a signed-out browser to sign in and back. */
function signedIn(request: FastifyRequest): ActiveSession {
  if (!request.session) throw pageErrors.signInRequired();
  return request.session;
}

const actor = (request: FastifyRequest) => ({ userId: signedIn(request).userId, requestId: request.id });
const viewer = (reply: FastifyReply, session: ActiveSession): Viewer => ({ displayName: session.displayName, csrfToken: reply.generateCsrf() });

function pageUrl(provider: string, extra: Record<string, string | undefined>): string {
  const search = new URLSearchParams(Object.entries(extra).filter((e): e is [string, string] => e[1] !== undefined));
  const query = search.toString();
  return `/connections/${encodeURIComponent(provider)}${query ? `?${query}` : ''}`;
}

export const connectionRoutes: FastifyPluginAsync<ConnectionRoutesOptions> = async (app, opts) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { links, consents } = opts;

  const redirectToSignIn = (request: FastifyRequest, reply: FastifyReply) => reply.redirect(`/login?${new URLSearchParams({ returnTo: request.url })}`, 303);

  routes.get('/connections', { schema: { hide: true } }, async (request, reply) => {
    if (!request.session) return redirectToSignIn(request, reply);
    const [list, waiting] = await Promise.all([consents.connections(request.session.userId), opts.approvals.pendingForUser(request.session.userId)]);
    return reply.type('text/html; charset=utf-8').send(connectionsPage(viewer(reply, request.session), list, waiting.length));
  });

  routes.get('/connections/:provider', { schema: { hide: true, params, querystring: pageQuery } }, async (request, reply) => {
    const providerId = consents.provider(request.params.provider).id;
    if (!request.session) return redirectToSignIn(request, reply);
    const { agent, operation, result } = request.query;
    const view = await consents.providerView(request.session.userId, providerId, { agent, operation });
    return reply.type('text/html; charset=utf-8').send(providerPage({ ...view, viewer: viewer(reply, request.session), ...(result ? { result } : {}) }));
  });

  routes.post('/connections/:provider/link', { schema: { hide: true, params, body: linkBody }, preHandler: opts.requireCsrf }, async (request, reply) => {
    const { agent, operation } = request.body;
    const { redirect } = await links.begin(signedIn(request), request.params.provider, { agent, operation });
    return reply.redirect(redirect.href, 303);
  });

  routes.get('/connections/:provider/callback', { schema: { hide: true, params, querystring: callbackQuery } }, async (request, reply) => {
    const session = signedIn(request);
    const providerId = request.params.provider;
    const outcome = await links.complete(session, providerId, new URL(request.url, opts.publicUrl), request.id);
    const waiting = await consentAfterLink(consents, actor(request), providerId, outcome);
    return reply.redirect(pageUrl(providerId, waiting ? { result: waiting } : { ...outcome.request, result: outcome.result }), 303);
  });

  routes.post('/connections/:provider/consent', { schema: { hide: true, params, body: consentBody }, preHandler: opts.requireCsrf }, async (request, reply) => {
    const providerId = request.params.provider;
    const choices = request.body.consent.map(consentChoice);
    const outcome = await consents.saveConsent(actor(request), providerId, request.body.grant, choices);
    if (outcome === 'needs_scopes') return relink(reply, await links.begin(signedIn(request), providerId, { choices }));
    return reply.redirect(pageUrl(providerId, { result: 'consent_saved' }), 303);
  });

  routes.post('/connections/:provider/approve', { schema: { hide: true, params, body: approveBody }, preHandler: opts.requireCsrf }, async (request, reply) => {
    const providerId = request.params.provider;
    const { grant, agent, operation } = request.body;
    const outcome = await consents.approve(actor(request), providerId, grant, agent, operation);
    if (outcome === 'needs_scopes') return relink(reply, await links.begin(signedIn(request), providerId, { agent, operation, approve: true }));
    return reply.redirect(pageUrl(providerId, { result: 'approved' }), 303);
  });

  routes.post('/connections/:provider/deny', { schema: { hide: true, params, body: answerBody }, preHandler: opts.requireCsrf }, async (request, reply) => {
    const providerId = request.params.provider;
    await consents.deny(actor(request), providerId, request.body.agent, request.body.operation);
    return reply.redirect(pageUrl(providerId, { result: 'denied' }), 303);
  });

  routes.post(
    '/connections/:provider/revoke-agent',
    { schema: { hide: true, params, body: revokeAgentBody }, preHandler: opts.requireCsrf },
    async (request, reply) => {
      const providerId = request.params.provider;
      await consents.revokeAgent(actor(request), providerId, request.body.grant, request.body.agent);
      return reply.redirect(pageUrl(providerId, { result: 'agent_revoked' }), 303);
    },
  );

  routes.get('/connections/:provider/unlink', { schema: { hide: true, params, querystring: unlinkQuery } }, async (request, reply) => {
    const providerId = consents.provider(request.params.provider).id;
    if (!request.session) return redirectToSignIn(request, reply);
    const grant = await consents.grantOf(request.session.userId, providerId, request.query.grant);
    return reply.type('text/html; charset=utf-8').send(unlinkConfirmPage(viewer(reply, request.session), consents.provider(providerId), grant));
  });

  routes.post('/connections/:provider/unlink', { schema: { hide: true, params, body: grantBody }, preHandler: opts.requireCsrf }, async (request, reply) => {
    const providerId = request.params.provider;
    const outcome = await consents.unlink(actor(request), providerId, request.body.grant);
    return reply.redirect(pageUrl(providerId, { result: UNLINK_RESULT[outcome] }), 303);
  });
};

const relink = (reply: FastifyReply, link: { redirect: URL }) => reply.redirect(link.redirect.href, 303);

/** The consent change a re-link for more scopes was started for (LinkOutcome), made now that the new grant exists. */
async function consentAfterLink(consents: ConsentService, by: Actor, providerId: string, outcome: LinkOutcome): Promise<Result | undefined> {
  const { agent, operation } = outcome.request;
  let done: ConsentOutcome;
  if (outcome.approve && agent && operation) done = await consents.approve(by, providerId, outcome.grantId, agent, operation);
  else if (outcome.choices) done = await consents.saveConsent(by, providerId, outcome.grantId, outcome.choices);
  else return undefined;
  if (done === 'needs_scopes') return 'scopes_refused';
  return outcome.approve ? 'relinked_approved' : 'relinked_saved';
}

const UNLINK_RESULT: Record<RevocationOutcome, Result> = { revoked: 'unlinked', pending: 'unlink_pending', unsupported: 'unlinked_local' };
