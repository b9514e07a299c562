/**
 * The connections pages: list, one provider (also the deep link of an
 * exchange's `consent_required`) with each connection's agents and recent
 * uses, link + per-provider callback, consent, revoking one agent, and
 * unlink. Every POST needs the session and its CSRF token and answers 303.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preHandlerHookHandler } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import * as oidc from 'openid-client';
import { z } from 'zod';
import type { ProviderCatalog, Provider } from '../providers/catalog.js';
import { providerId as providerIdSchema } from '../providers/schema.js';
import type { Grant } from '../store/grant-store.js';
import type { Stores } from '../store/stores.js';
import { consentedAgents, recentUses } from './grant-history.js';
import type { RevocationOutcome } from '../grants/retire.js';
import type { LinkService } from './link-service.js';
import { pageErrors } from './pages/page-error.js';
import type { ActiveSession } from './session.js';
import { connectionsPage, providerPage, RESULTS, type ProviderPageModel, type Result, type Viewer } from './pages/views.js';

export interface ConnectionRoutesOptions {
  stores: Stores;
  catalog: ProviderCatalog;
  links: LinkService;
  publicUrl: string;
  stateTtlSeconds: number;
  requireCsrf: preHandlerHookHandler[];
}

interface PendingLink {
  /** SHA-256 of the session id: the state is bound to this browser session without storing the id. */
  session: string;
  userId: string;
  provider: string;
  codeVerifier: string;
  nonce?: string;
  agent?: string;
  operation?: string;
}

const sessionHash = (session: ActiveSession) => createHash('sha256').update(session.id).digest('base64url');
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
const pageQuery = z.object({
  agent: z.string().max(512).optional(),
  operation: z.string().max(200).optional(),
  result: z.enum(Object.keys(RESULTS) as [Result, ...Result[]]).optional(),
});
const callbackQuery = z.object({ state: z.string().max(512).optional(), error: z.string().max(256).optional() });

/** The signed-in session; GET pages send a signed-out browser to sign in and back. */
function signedIn(request: FastifyRequest): ActiveSession {
  if (!request.session) throw pageErrors.signInRequired();
  return request.session;
}

const viewer = (reply: FastifyReply, session: ActiveSession): Viewer => ({ displayName: session.displayName, csrfToken: reply.generateCsrf() });

function pageUrl(provider: string, extra: Record<string, string | undefined>): string {
  const search = new URLSearchParams(Object.entries(extra).filter((e): e is [string, string] => e[1] !== undefined));
  const query = search.toString();
  return `/connections/${encodeURIComponent(provider)}${query ? `?${query}` : ''}`;
}

export const connectionRoutes: FastifyPluginAsync<ConnectionRoutesOptions> = async (app, opts) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const { stores, catalog, links } = opts;

  const provider = (id: string): Provider => {
    const found = catalog.provider(id);
    if (!found) throw pageErrors.unknownProvider();
    return found;
  };

  /** A grant of this user and provider, or the same answer for missing and foreign ones. */
  const ownGrant = async (session: ActiveSession, providerId: string, grantId: string): Promise<Grant> => {
    const grant = await stores.grants.get(grantId);
    if (!grant || grant.userId !== session.userId || grant.provider !== providerId) throw pageErrors.unknownGrant();
    return grant;
  };

  const agentsFor = (providerId: string) =>
    catalog
      .listAgents()
      .map((agent) => ({ agent, operations: catalog.ceilingFor(agent.id, providerId) }))
      .filter((a) => a.operations.length > 0);

  /** A deep-link request, when it names an agent and one of its ceiling operations on this provider. */
  const askedFor = (providerId: string, agentId?: string, operation?: string) => {
    if (!agentId || !operation) return undefined;
    const agent = catalog.agent(agentId);
    const op = catalog.ceilingFor(agentId, providerId).find((o) => o.name === operation);
    return agent && op ? { agent, operation: op } : undefined;
  };

  const redirectToSignIn = (request: FastifyRequest, reply: FastifyReply) => reply.redirect(`/login?${new URLSearchParams({ returnTo: request.url })}`, 303);

  routes.get('/connections', { schema: { hide: true } }, async (request, reply) => {
    if (!request.session) return redirectToSignIn(request, reply);
    const grants = await stores.grants.listByUser(request.session.userId);
    const list = catalog.list().map((p) => ({ provider: p, grants: grants.filter((g) => g.provider === p.id) }));
    return reply.type('text/html; charset=utf-8').send(connectionsPage(viewer(reply, request.session), list));
  });

  routes.get('/connections/:provider', { schema: { hide: true, params, querystring: pageQuery } }, async (request, reply) => {
    const p = provider(request.params.provider);
    if (!request.session) return redirectToSignIn(request, reply);
    const { agent, operation, result } = request.query;
    const grants = (await stores.grants.listByUser(request.session.userId)).filter((g) => g.provider === p.id);
    const request_ = askedFor(p.id, agent, operation);
    // Only the signed-in user's own grants are listed, so only their history is read.
    const activity = new Map(
      await Promise.all(grants.map(async (g) => [g.id, { agents: consentedAgents(g, catalog), uses: await recentUses(stores.audit, catalog, g) }] as const)),
    );
    const model: ProviderPageModel = {
      viewer: viewer(reply, request.session),
      provider: p,
      grants,
      agents: agentsFor(p.id),
      activity,
      ...(request_ ? { request: request_ } : {}),
      ...(result ? { result } : {}),
    };
    return reply.type('text/html; charset=utf-8').send(providerPage(model));
  });

  routes.post('/connections/:provider/link', { schema: { hide: true, params, body: linkBody }, preHandler: opts.requireCsrf }, async (request, reply) => {
    const session = signedIn(request);
    const p = provider(request.params.provider);
    const asked = askedFor(p.id, request.body.agent, request.body.operation);
    const state = randomBytes(32).toString('base64url');
    const pending: PendingLink = {
      session: sessionHash(session),
      userId: session.userId,
      provider: p.id,
      codeVerifier: oidc.randomPKCECodeVerifier(),
      ...(p.kind === 'oidc' || p.scopes.includes('openid') ? { nonce: oidc.randomNonce() } : {}),
      ...(asked ? { agent: asked.agent.id, operation: asked.operation.name } : {}),
    };
    const url = await links.authorizationUrl(p.id, {
      state,
      codeVerifier: pending.codeVerifier,
      redirectUri: callbackUri(opts.publicUrl, p.id),
      ...(pending.nonce ? { nonce: pending.nonce } : {}),
    });
    await stores.oneShot.put(`link:${state}`, JSON.stringify(pending), opts.stateTtlSeconds * 1000);
    return reply.redirect(url.href, 303);
  });

  routes.get('/connections/:provider/callback', { schema: { hide: true, params, querystring: callbackQuery } }, async (request, reply) => {
    const session = signedIn(request);
    const p = provider(request.params.provider);
    const { state, error } = request.query;
    if (!state) throw pageErrors.stateMissing();
    const stored = await stores.oneShot.take(`link:${state}`);
    if (stored === null) throw pageErrors.stateUnknown();
    const pending = JSON.parse(stored) as PendingLink;
    if (pending.session !== sessionHash(session) || pending.userId !== session.userId) throw pageErrors.stateMismatch('link state from another session');
    // Mix-up defence: the answer must arrive on the callback of the provider the request went to.
    if (pending.provider !== p.id) throw pageErrors.stateMismatch('link state issued for another provider');
    if (error) throw pageErrors.providerRefused('provider returned an error response');
    const result = await links.completeLink({ userId: session.userId, requestId: request.id }, p.id, new URL(request.url, opts.publicUrl), {
      redirectUri: callbackUri(opts.publicUrl, p.id),
      codeVerifier: pending.codeVerifier,
      state,
      ...(pending.nonce ? { nonce: pending.nonce } : {}),
    });
    return reply.redirect(pageUrl(p.id, { agent: pending.agent, operation: pending.operation, result }), 303);
  });

  routes.post('/connections/:provider/consent', { schema: { hide: true, params, body: consentBody }, preHandler: opts.requireCsrf }, async (request, reply) => {
    const session = signedIn(request);
    const p = provider(request.params.provider);
    const grant = await ownGrant(session, p.id, request.body.grant);
    if (grant.status === 'revoked') throw pageErrors.unknownGrant('consent on a revoked grant');
    // Every agent shown on the page is saved: an unticked box withdraws consent.
    const selection = new Map(agentsFor(p.id).map(({ agent }) => [agent.id, [] as string[]]));
    for (const value of request.body.consent) {
      const space = value.indexOf(' ');
      const [operation, agent] = space > 0 ? [value.slice(0, space), value.slice(space + 1)] : [value, ''];
      const chosen = selection.get(agent);
      if (!chosen || !catalog.ceilingFor(agent, p.id).some((op) => op.name === operation)) throw pageErrors.notPermitted('operation outside the admin ceiling');
      if (!chosen.includes(operation)) chosen.push(operation);
    }
    await links.saveConsent({ userId: session.userId, requestId: request.id }, grant, selection);
    return reply.redirect(pageUrl(p.id, { result: 'consent_saved' }), 303);
  });

  routes.post(
    '/connections/:provider/revoke-agent',
    { schema: { hide: true, params, body: revokeAgentBody }, preHandler: opts.requireCsrf },
    async (request, reply) => {
      const session = signedIn(request);
      const p = provider(request.params.provider);
      const grant = await ownGrant(session, p.id, request.body.grant);
      if (grant.status === 'revoked') throw pageErrors.unknownGrant('agent revocation on a revoked grant');
      // An agent without consent (a second click, a stale page) gets the same answer: it has no access either way.
      await links.revokeAgent({ userId: session.userId, requestId: request.id }, grant, request.body.agent);
      return reply.redirect(pageUrl(p.id, { result: 'agent_revoked' }), 303);
    },
  );

  routes.post('/connections/:provider/unlink', { schema: { hide: true, params, body: grantBody }, preHandler: opts.requireCsrf }, async (request, reply) => {
    const session = signedIn(request);
    const p = provider(request.params.provider);
    const grant = await ownGrant(session, p.id, request.body.grant);
    const outcome = await links.unlink({ userId: session.userId, requestId: request.id }, grant);
    return reply.redirect(pageUrl(p.id, { result: UNLINK_RESULT[outcome] }), 303);
  });
};

const UNLINK_RESULT: Record<RevocationOutcome, Result> = { revoked: 'unlinked', pending: 'unlink_pending', unsupported: 'unlinked_local' };

export const callbackUri = (publicUrl: string, providerId: string) => new URL(`/connections/${encodeURIComponent(providerId)}/callback`, publicUrl).href;
