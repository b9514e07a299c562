/**
 * The /exchange peer of `npm run bench`: what a user would pick instead of the vault, node-oidc-provider
 * (panva) serving an RFC 8693 token exchange through `registerGrantType`, set up the way its documentation
 * describes and as close to the vault's exchange as it goes:
 *
 * - client authentication by mTLS (RFC 8705 §2.1 `tls_client_auth`, the gateway certificate's SAN URI),
 *   over the vault's own TLS settings and certificate;
 * - the subject and actor tokens verified with jose (`jwtVerify`) against the same issuers' keys, on
 *   every request (oidc-provider keeps no verified-token cache);
 * - a JWT access token (RFC 9068) signed EdDSA by oidc-provider's JWT format, with `sub`, `act`, `scope`,
 *   `aud`, and bound to the client certificate (RFC 8705 §3, `cnf.x5t#S256`);
 * - its token record (subject, actor, scope, thumbprint) written to Redis with the token's TTL before
 *   the answer, like the vault's record.
 *
 * Left out, so the peer's figure is a lower bound of the same work: grant and consent reads, kill
 * switches, the upstream token cache and the audit record.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, type JSONWebKeySet } from 'jose';
import { Redis } from 'ioredis';
import Provider, { type Configuration, type KoaContextWithOIDC, type OidcClient } from 'oidc-provider';

const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TOKEN_TYPE = 'urn:ietf:params:oauth:token-type:access_token';
const TTL_SECONDS = 60;
const CLIENT_ID = 'gateway';

/** What the handler uses of oidc-provider beyond src/dev/oidc-provider.d.ts. */
interface PeerProvider {
  registerGrantType(name: string, handler: (ctx: KoaContextWithOIDC) => Promise<void>, params: string[], dupes?: string[]): void;
  AccessToken: new (init: Record<string, unknown>) => PeerAccessToken;
}

interface PeerAccessToken {
  jti: string;
  'x5t#S256'?: string;
  setThumbprint(prop: 'x5t', certificate: string): void;
  save(): Promise<string>;
}

export interface PeerIssuer {
  issuer: string;
  jwksFile: string;
  alg: string;
}

export interface OidcProviderPeerOptions {
  tls: { cert: string; key: string; gatewayCa: string };
  /** The gateway certificate's SPIFFE id (its SAN URI), registered as the client's `tls_client_auth_san_uri`. */
  gatewayId: string;
  subject: PeerIssuer;
  actor: PeerIssuer;
  audience: string;
  scope: string;
  redisUrl?: string;
}

export interface OidcProviderPeer {
  url: string;
  /** The vault's exchange body plus `client_id` (RFC 8705 §2: tls_client_auth names the client). */
  body(exchangeBody: string): string;
  close(): Promise<void>;
}

const peerCertificate = (ctx: KoaContextWithOIDC) => (ctx.req.socket as TLSSocket).getPeerX509Certificate();

/** Starts the peer on 127.0.0.1 (any free port), with an in-memory record map when no Redis is given. */
export async function startOidcProviderPeer(options: OidcProviderPeerOptions): Promise<OidcProviderPeer> {
  const server: Server = createServer({
    cert: options.tls.cert,
    key: options.tls.key,
    ca: [options.tls.gatewayCa],
    requestCert: true,
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { privateKey } = await generateKeyPair('EdDSA', { extractable: true });
  const signing = { ...(await exportJWK(privateKey)), kid: 'peer-ed25519', alg: 'EdDSA', use: 'sig' };
  const keysOf = (issuer: PeerIssuer) => createLocalJWKSet(JSON.parse(readFileSync(issuer.jwksFile, 'utf8')) as JSONWebKeySet);
  const subjectKeys = keysOf(options.subject);
  const actorKeys = keysOf(options.actor);
  const redis = options.redisUrl ? new Redis(options.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 1 }) : undefined;
  const memory = new Map<string, string>();
  /** The actor of each token being issued, for oidc-provider's `extraTokenClaims` hook (RFC 8693 §4.1 `act`). */
  const actors = new WeakMap<object, string>();

  const configuration = {
    clients: [
      {
        client_id: CLIENT_ID,
        grant_types: [TOKEN_EXCHANGE],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'tls_client_auth',
        tls_client_auth_san_uri: options.gatewayId,
        tls_client_certificate_bound_access_tokens: true,
      },
    ],
    jwks: { keys: [signing] },
    clientAuthMethods: ['tls_client_auth'],
    extraTokenClaims: (_ctx: KoaContextWithOIDC, token: object) => {
      const act = actors.get(token);
      return act === undefined ? undefined : { act: { sub: act } };
    },
    enabledJWA: { idTokenSigningAlgValues: ['EdDSA'] },
    clientDefaults: { id_token_signed_response_alg: 'EdDSA' },
    features: {
      devInteractions: { enabled: false },
      mTLS: {
        enabled: true,
        tlsClientAuth: true,
        certificateBoundAccessTokens: true,
        getCertificate: (ctx: KoaContextWithOIDC) => peerCertificate(ctx)?.toString(),
        certificateAuthorized: (ctx: KoaContextWithOIDC) => (ctx.req.socket as TLSSocket).authorized,
        certificateSubjectMatches: (ctx: KoaContextWithOIDC, property: string, expected: string) =>
          property === 'tls_client_auth_san_uri' && (peerCertificate(ctx)?.subjectAltName ?? '').split(', ').includes(`URI:${expected}`),
      },
    },
  } as unknown as Configuration;
  const provider = new Provider(origin, configuration);
  const { errors } = (await import('oidc-provider')) as unknown as {
    errors: Record<'InvalidRequest' | 'InvalidGrant' | 'InvalidScope', new (description: string) => Error>;
  };
  const resourceServer = {
    audience: 'crm',
    scope: options.scope,
    accessTokenFormat: 'jwt',
    accessTokenTTL: TTL_SECONDS,
    jwt: { sign: { alg: 'EdDSA' } },
    identifier: () => 'crm',
  };

  // RFC 8693 §2.1: the request; §2.2.1: the response.
  (provider as unknown as PeerProvider).registerGrantType(
    TOKEN_EXCHANGE,
    async (ctx) => {
      const params = ctx.oidc.params as Record<string, string | undefined>;
      if (params.subject_token_type !== JWT_TYPE || params.actor_token_type !== JWT_TYPE) throw new errors.InvalidRequest('unsupported token type');
      if (params.scope !== options.scope) throw new errors.InvalidScope('scope not allowed');
      const verify = (token: string | undefined, keys: typeof subjectKeys, issuer: PeerIssuer) =>
        jwtVerify(token ?? '', keys, { issuer: issuer.issuer, audience: options.audience, algorithms: [issuer.alg] }).catch(() => {
          throw new errors.InvalidGrant('subject or actor token invalid');
        });
      const [subject, actor] = await Promise.all([
        verify(params.subject_token, subjectKeys, options.subject),
        verify(params.actor_token, actorKeys, options.actor),
      ]);
      const token = new (provider as unknown as PeerProvider).AccessToken({
        accountId: `${subject.payload.iss}|${subject.payload.sub}`,
        client: ctx.oidc.client as OidcClient,
        scope: options.scope,
        gty: TOKEN_EXCHANGE,
        expiresIn: TTL_SECONDS,
        resourceServer,
      });
      actors.set(token, actor.payload.sub ?? '');
      token.setThumbprint('x5t', peerCertificate(ctx)?.toString() ?? '');
      const value = await token.save();
      const record = JSON.stringify({ sub: subject.payload.sub, act: actor.payload.sub, scope: options.scope, x5t: token['x5t#S256'] });
      if (redis) await redis.set(`peer:tok:${token.jti}`, record, 'PX', TTL_SECONDS * 1000);
      else memory.set(token.jti, record);
      ctx.set('Cache-Control', 'no-store');
      ctx.body = { access_token: value, issued_token_type: ACCESS_TOKEN_TYPE, token_type: 'Bearer', expires_in: TTL_SECONDS, scope: options.scope };
    },
    ['subject_token', 'subject_token_type', 'actor_token', 'actor_token_type', 'resource', 'audience', 'scope', 'requested_token_type'],
    ['resource', 'audience'],
  );
  server.on('request', provider.callback());

  return {
    url: `${origin}/token`,
    body: (exchangeBody) => `${exchangeBody}&client_id=${CLIENT_ID}`,
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      redis?.disconnect();
    },
  };
}

/** The SAN URI of a PEM certificate (the gateway's SPIFFE id). */
export function sanUri(pem: string): string {
  const uri = new X509Certificate(pem).subjectAltName?.split(', ').find((name) => name.startsWith('URI:'));
  if (!uri) throw new Error('gateway certificate has no SAN URI');
  return uri.slice('URI:'.length);
}
