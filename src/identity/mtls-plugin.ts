/**
 * Cross-cutting (fastify-plugin): every request on the internal listener must
 * come from a verified, allowlisted client certificate in a role the route
 * accepts. Routes declare roles with `config: { peer: ['admin'] }`; the default
 * is gateway only, so a new route is never accidentally open to a wrong role.
 */
import fp from 'fastify-plugin';
import type { FastifyPluginAsync } from 'fastify';
import { peerFor, type PeerIdentity, type PeerRole, type TrustPolicy } from './peer-certificate.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified mTLS peer of this request (internal listener only). */
    peer: PeerIdentity;
  }
  interface FastifyContextConfig {
    /** Roles whose certificates may call this route (default: gateway). */
    peer?: readonly PeerRole[];
  }
}

const DEFAULT_ROLES: readonly PeerRole[] = ['gateway'];
/** Unmatched routes (404) still require some valid identity before answering. */
const ANY_ROLE: readonly PeerRole[] = ['gateway', 'admin'];

const plugin: FastifyPluginAsync<{ policy: TrustPolicy }> = async (app, { policy }) => {
  app.decorateRequest('peer', null as unknown as PeerIdentity);
  // Callback style (no promise per request); peerFor throws InvalidClient, handed to done().
  app.addHook('onRequest', (request, _reply, done) => {
    const roles = request.is404 ? ANY_ROLE : (request.routeOptions.config.peer ?? DEFAULT_ROLES);
    try {
      request.peer = peerFor(request, policy, roles);
    } catch (err) {
      done(err as Error);
      return;
    }
    done();
  });
};

export const mtlsIdentity = fp(plugin, { name: 'mtls-identity', fastify: '5.x' });
