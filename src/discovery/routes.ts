/**
 * Public discovery: the JWKS that verifies operation tokens (RFC 7517) and
 * authorization server metadata (RFC 8414) naming the internal mTLS
 * endpoints (RFC 8705 §3.3, §5).
 */
import type { FastifyPluginAsync } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { SigningKeys } from '../crypto/signing-keys.js';
import type { ProviderCatalog } from '../providers/catalog.js';
import { GRANT_TYPE_CIBA, GRANT_TYPE_TOKEN_EXCHANGE } from '../tokens/token-types.js';

export interface DiscoveryOptions {
  issuer: string;
  internalUrl: string;
  signingKeys: SigningKeys;
  catalog: ProviderCatalog;
}

const jwks = z.object({ keys: z.array(z.record(z.string(), z.unknown())) });
const metadata = z.object({
  issuer: z.string(),
  token_endpoint: z.string(),
  introspection_endpoint: z.string(),
  jwks_uri: z.string(),
  grant_types_supported: z.array(z.string()),
  backchannel_token_delivery_modes_supported: z.array(z.string()),
  response_types_supported: z.array(z.string()),
  token_endpoint_auth_methods_supported: z.array(z.string()),
  introspection_endpoint_auth_methods_supported: z.array(z.string()),
  tls_client_certificate_bound_access_tokens: z.boolean(),
  scopes_supported: z.array(z.string()),
  authorization_details_types_supported: z.array(z.string()),
  mtls_endpoint_aliases: z.object({ token_endpoint: z.string(), introspection_endpoint: z.string() }),
});

export const discoveryRoutes: FastifyPluginAsync<DiscoveryOptions> = async (app, { issuer, internalUrl, signingKeys, catalog }) => {
  const routes = app.withTypeProvider<ZodTypeProvider>();
  const base = issuer.replace(/\/+$/, '');
  const internal = internalUrl.replace(/\/+$/, '');
  const document = {
    issuer,
    token_endpoint: `${internal}/exchange`,
    introspection_endpoint: `${internal}/introspect`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    // OpenID CIBA Core 1.0 §4: the poll for operations that need approval (poll mode only).
    grant_types_supported: [GRANT_TYPE_TOKEN_EXCHANGE, GRANT_TYPE_CIBA],
    backchannel_token_delivery_modes_supported: ['poll'],
    // No authorization endpoint: agents never see a browser flow here.
    response_types_supported: [],
    token_endpoint_auth_methods_supported: ['tls_client_auth'],
    introspection_endpoint_auth_methods_supported: ['tls_client_auth'],
    tls_client_certificate_bound_access_tokens: true,
    scopes_supported: catalog.list().flatMap((p) => [...p.operations.values()].map((op) => op.name)),
    authorization_details_types_supported: catalog.list().map((p) => p.id),
    mtls_endpoint_aliases: { token_endpoint: `${internal}/exchange`, introspection_endpoint: `${internal}/introspect` },
  };

  routes.get(
    '/.well-known/jwks.json',
    { schema: { summary: 'Keys that verify operation tokens (current and previous)', tags: ['discovery'], response: { 200: jwks } } },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return signingKeys.jwks();
    },
  );

  routes.get(
    '/.well-known/oauth-authorization-server',
    { schema: { summary: 'Authorization server metadata (RFC 8414)', tags: ['discovery'], response: { 200: metadata } } },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return document;
    },
  );
};
