/**
 * Cross-cutting (fastify-plugin) admin authentication for every route
 * registered in the admin scope.
 *
 * Two ways in, both over the internal listener's mTLS:
 * - an admin client certificate (`admins.allow`, admin CA): the certificate is the admin;
 * - an admin-console certificate (`admins.consoles`, admin CA), which has no rights of
 *   its own, plus `Authorization: Bearer <IdP JWT with the admin group>`: the JWT subject
 *   is the admin. The console is e.g. an internal web UI that signs its operators in.
 *
 * Every route in the scope accepts exactly these two certificate roles (set by
 * an onRoute hook, so a route cannot forget it): a gateway certificate is
 * refused by the mTLS plugin before any admin code runs, whatever it carries.
 */
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { InvalidClient, InvalidToken } from '../errors.js';
import type { PeerRole } from '../identity/peer-certificate.js';
import { AdminJwtError, type AdminJwtVerifier } from './admin-jwt.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated admin (admin routes only). */
    admin: AdminIdentity;
  }
}

export interface AdminIdentity {
  /** Certificate SPIFFE id / CN, or `jwt:<iss>#<sub>`. */
  id: string;
  via: 'certificate' | 'jwt';
}

export const ADMIN_ROLES: readonly PeerRole[] = ['admin', 'console'];

const BEARER = /^Bearer ([\w-]+\.[\w-]+\.[\w-]+)$/;

const plugin: FastifyPluginAsync<{ jwt: AdminJwtVerifier | undefined }> = async (app, { jwt }) => {
  app.decorateRequest('admin', null as unknown as AdminIdentity);
  app.addHook('onRoute', (route) => {
    route.config = { ...(route.config ?? {}), peer: ADMIN_ROLES };
  });
  app.addHook('onRequest', async (request) => {
    const { peer } = request;
    if (peer.role === 'admin') {
      request.admin = { id: peer.id, via: 'certificate' };
      return;
    }
    if (peer.role !== 'console') throw new InvalidClient('not an admin identity');
    const match = BEARER.exec(request.headers.authorization ?? '');
    const token = match?.[1];
    if (!jwt || token === undefined) throw bearerError(new InvalidToken('console without an admin bearer token'));
    try {
      request.admin = { id: await jwt.verify(token), via: 'jwt' };
    } catch (err) {
      if (err instanceof AdminJwtError) throw bearerError(new InvalidToken(err.message));
      throw err;
    }
  });
};

/** RFC 6750 §3: a refused bearer token is a 401 with a challenge. */
function bearerError(err: InvalidToken): InvalidToken {
  err.headers = { 'www-authenticate': 'Bearer error="invalid_token"' };
  return err;
}

export const adminAuth = fp(plugin, { name: 'admin-auth', fastify: '5.x', dependencies: ['mtls-identity'] });
