/**
 * POST /introspect (RFC 7662) for operation tokens, internal listener, gateway
 * role. Active only when the token passes the rules /forward applies too
 * (tokens/operation-token.ts), the record under its `jti` still exists with
 * uses left, it was issued to the calling gateway, its grant still honours it
 * (active, consenting: grants/liveness.ts) and no kill switch covers it. Anything else is
 * `{active: false}` with no reason (RFC 7662 §2.2).
 */
import formbody from '@fastify/formbody';
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SigningKeys } from '../crypto/signing-keys.js';
import { AccessDenied, oauthErrorBody } from '../errors.js';
import type { GrantStore } from '../store/grant-store.js';
import type { TokenStore } from '../store/token-store.js';
import type { KillSwitchCache } from '../kill-switches/cache.js';
import { grantHonours } from '../grants/liveness.js';
import { verifyOperationToken, type OperationTokenPayload } from '../tokens/operation-token.js';

export interface IntrospectionOptions {
  issuer: string;
  signingKeys: SigningKeys;
  /** Clock difference between replicas tolerated on the token's times (config `identity.clockSkewSeconds`). */
  clockSkewSeconds: number;
  tokens: TokenStore;
  grants: GrantStore;
  killSwitches: KillSwitchCache;
}

const introspectionRequest = z.object({
  token: z.string().min(1).max(16_384),
  token_type_hint: z.string().max(64).optional(),
});

const introspectionResponse = z.union([
  z.object({
    active: z.literal(true),
    sub: z.string(),
    act: z.object({ sub: z.string() }),
    scope: z.string(),
    aud: z.string(),
    exp: z.number().int(),
    iat: z.number().int(),
    jti: z.string(),
    client_id: z.string(),
    token_type: z.literal('Bearer'),
    cnf: z.object({ 'x5t#S256': z.string() }),
  }),
  z.object({ active: z.literal(false) }),
]);

const INACTIVE = { active: false as const };

export const introspectionRoutes: FastifyPluginAsync<IntrospectionOptions> = async (
  app,
  { issuer, signingKeys, clockSkewSeconds, tokens, grants, killSwitches },
) => {
  await app.register(formbody);
  const routes = app.withTypeProvider<ZodTypeProvider>();

  routes.post(
    '/introspect',
    {
      schema: {
        summary: 'Token introspection (RFC 7662) of operation tokens',
        tags: ['exchange'],
        consumes: ['application/x-www-form-urlencoded', 'application/json'],
        body: introspectionRequest,
        response: { 200: introspectionResponse, 400: oauthErrorBody, 401: oauthErrorBody },
      },
      config: { peer: ['gateway'] },
    },
    async (request, reply) => {
      reply.headers({ 'cache-control': 'no-store', pragma: 'no-cache' });
      let claims: OperationTokenPayload;
      try {
        claims = verifyOperationToken(request.body.token, signingKeys, { issuer, clockSkewSeconds });
      } catch {
        return INACTIVE;
      }
      const record = await tokens.get(claims.jti);
      if (!record || record.usesLeft <= 0 || record.gateway !== request.peer.id) return INACTIVE;
      if (!grantHonours(record, await grants.get(record.grantId))) return INACTIVE;
      try {
        killSwitches.assertOpen({ gateway: record.gateway, agent: record.agent, user: record.userId, provider: record.provider, grant: record.grantId });
      } catch (err) {
        if (err instanceof AccessDenied) return INACTIVE;
        throw err;
      }
      return {
        active: true as const,
        sub: record.userId,
        act: { sub: record.agent },
        scope: record.operation,
        aud: record.provider,
        exp: claims.exp,
        iat: claims.iat,
        jti: record.jti,
        client_id: record.gateway,
        token_type: 'Bearer' as const,
        cnf: { 'x5t#S256': record.certThumbprint },
      };
    },
  );
};
