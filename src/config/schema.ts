/**
 * The one configuration schema. Parsed once at boot; every bad value is
 * reported in one error. Secrets never appear inline: only file paths.
 */
import { createSecureContext } from 'node:tls';
import { z } from 'zod';
import { agentSchema, providerId, providerSchema } from '../providers/schema.js';
import { auditSchema } from './audit.js';
import { filePath } from './fields.js';
import { webhooksSchema } from './webhooks.js';

export { WEBHOOK_EVENTS } from './webhooks.js';
import { redisTopologyFields, redisTopologyIssues } from './redis-topology.js';

const port = z.number().int().min(0).max(65535);
const host = z.string().min(1);

/**
 * TLS 1.3 suites (by their `TLS_` names: without one, Node turns TLS 1.3 off) and TLS 1.2 ECDHE with
 * an AEAD only (RFC 9325 §4.2): no CBC-mode `…-SHA` suites, no CCM/CCM8, no ARIA, no static RSA or DHE.
 */
export const DEFAULT_TLS_CIPHERS = [
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
].join(':');

/** An OpenSSL cipher list OpenSSL accepts (a typo fails at boot, not at the first handshake). */
const cipherList = z
  .string()
  .min(1)
  .refine((ciphers) => {
    try {
      createSecureContext({ ciphers });
      return true;
    } catch {
      return false;
    }
  }, 'not a cipher list OpenSSL accepts');

const listener = (defaultHost: string, defaultPort: number) =>
  z.strictObject({ host: host.default(defaultHost), port: port.default(defaultPort) }).prefault({});

/**
 * Identities are SPIFFE ids (`spiffe://trust-domain/path`) or certificate subject CNs.
 * A gateway identity never grants admin access and vice versa (separate lists).
 */
const identity = z.string().min(1).max(512);

/** A trusted JWT issuer: where its keys are and which algorithms it may use. */
const jwtIssuer = z
  .strictObject({
    issuer: z.string().min(1).max(512),
    /** Remote JWKS (fetched with the outbound policy) or a local JWKS file. */
    jwksUri: z.url({ protocol: /^https?$/ }).optional(),
    jwksFile: filePath.optional(),
    /** Asymmetric algorithms only: never `none`, never HMAC. */
    algorithms: z
      .array(z.enum(['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256']))
      .min(1)
      .default(['EdDSA', 'ES256', 'RS256']),
    allowPrivateNetwork: z.boolean().default(false),
  })
  .refine((i) => Boolean(i.jwksUri) !== Boolean(i.jwksFile), 'exactly one of jwksUri or jwksFile');

export const configSchema = z
  .strictObject({
    mode: z.enum(['dev', 'production']).default('production'),
    /** Public URL of the vault (issuer of operation tokens, base of consent links). */
    publicUrl: z.url({ protocol: /^https$/ }).optional(),
    /**
     * URL gateways use for the internal listener (`/exchange`, `/introspect`), published in
     * the RFC 8414 metadata. Defaults to publicUrl's host on the internal listener's port.
     */
    internalUrl: z.url({ protocol: /^https$/ }).optional(),
    /** The `aud` that subject and actor tokens must carry. Defaults to publicUrl. */
    audience: z.string().min(1).optional(),
    listeners: z
      .strictObject({
        public: listener('0.0.0.0', 8443),
        internal: listener('0.0.0.0', 9443),
        /** Prometheus `/metrics`, plain HTTP: loopback by default, nothing else is served there. */
        metrics: z.strictObject({ enabled: z.boolean().default(true), host: host.default('127.0.0.1'), port: port.default(9464) }).prefault({}),
      })
      .prefault({}),
    tls: z.strictObject({
      /** Server certificate chain (PEM) used by both HTTPS listeners. */
      cert: filePath,
      key: filePath,
      /** CA bundle that gateway client certificates must chain to. */
      gatewayCa: filePath,
      /** CA bundle for admin client certificates; defaults to gatewayCa. */
      adminCa: filePath.optional(),
      /** Cipher suites of both listeners (OpenSSL list, TLS 1.3 suites included). */
      ciphers: cipherList.default(DEFAULT_TLS_CIPHERS),
      minVersion: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2'),
    }),
    gateways: z.strictObject({ allow: z.array(identity).min(1) }),
    admins: z
      .strictObject({
        /** Certificate identities with admin rights of their own. */
        allow: z.array(identity).default([]),
        /**
         * Admin-console identities (certificates from the admin CA) with NO rights of their own:
         * a request over such a connection is an admin request only with a valid admin JWT.
         */
        consoles: z.array(identity).default([]),
        /** Bearer JWTs from the organisation's IdP carrying the admin group (optional). */
        jwt: z
          .strictObject({
            issuer: z.string().min(1).max(512),
            jwksUri: z.url({ protocol: /^https?$/ }).optional(),
            jwksFile: filePath.optional(),
            audience: z.string().min(1).max(512),
            groupClaim: z.string().min(1).max(128).default('groups'),
            group: z.string().min(1).max(256),
            /** Asymmetric algorithms only: never `none`, never HMAC. */
            algorithms: z
              .array(z.enum(['EdDSA', 'ES256', 'ES384', 'RS256', 'PS256']))
              .min(1)
              .default(['EdDSA', 'ES256', 'RS256']),
            allowPrivateNetwork: z.boolean().default(false),
          })
          .refine((j) => Boolean(j.jwksUri) !== Boolean(j.jwksFile), 'exactly one of jwksUri or jwksFile')
          .optional(),
      })
      .prefault({}),
    audit: auditSchema,
    keys: z.strictObject({ dir: filePath }),
    store: z
      .strictObject({
        kind: z.enum(['memory', 'redis']).default('redis'),
        redis: z
          .strictObject({
            url: z
              .string()
              .regex(/^rediss?:\/\//, 'must be a redis:// or rediss:// URL')
              .optional(),
            keyPrefix: z.string().max(64).default('tv:'),
            commandTimeoutMs: z.number().int().min(10).max(500).default(500),
            connectTimeoutMs: z.number().int().min(100).max(10_000).default(1000),
            /** Replicas that must acknowledge (`WAIT`) a rotated refresh token and the audit of a release before it is released (Cluster: those of the key's master); 0: none. */
            minReplicasAck: z.number().int().min(0).max(16).default(0),
            /** How long `WAIT` may take before the write counts as failed (fail closed). */
            replicaAckTimeoutMs: z.number().int().min(10).max(5_000).default(250),
            ...redisTopologyFields,
          })
          .superRefine(redisTopologyIssues)
          .prefault({}),
        /** Where rotated refresh tokens wait (encrypted) while Redis does not answer; default `<keys.dir>/rotation-spool`. */
        spoolDir: filePath.optional(),
      })
      .prefault({}),
    limits: z
      .strictObject({
        /** Well under Fastify's 1 MiB default: token-exchange bodies are a few KB. */
        bodyBytes: z.number().int().min(1024).max(1_048_576).default(65_536),
        requestTimeoutMs: z.number().int().min(100).max(120_000).default(10_000),
        connectionTimeoutMs: z.number().int().min(100).max(600_000).default(60_000),
        keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(72_000),
        shutdownGraceMs: z.number().int().min(0).max(120_000).default(10_000),
        /** /exchange: how many run at once, how many more may wait, and for how long (src/http/admission.ts). */
        admission: z
          .strictObject({
            concurrency: z.number().int().min(1).max(10_000).default(64),
            queue: z.number().int().min(0).max(100_000).default(2_000),
            maxWaitMs: z.number().int().min(10).max(120_000).default(30_000),
          })
          .prefault({}),
        /** /forward: bodies are streamed, never buffered whole; these bound them and the upstream's answer. */
        forward: z
          .strictObject({
            requestBodyBytes: z.number().int().min(1024).max(1_073_741_824).default(10_485_760),
            responseBodyBytes: z.number().int().min(1024).max(1_073_741_824).default(52_428_800),
            /** Until the upstream's response headers arrive. */
            headersTimeoutMs: z.number().int().min(100).max(120_000).default(30_000),
            /** Longest silence while a body streams, either direction. */
            bodyIdleTimeoutMs: z.number().int().min(100).max(120_000).default(30_000),
          })
          .prefault({}),
      })
      .prefault({}),
    identity: z
      .strictObject({
        /** The organisation's IdP for browser sign-in to the consent pages (OIDC code + PKCE). */
        login: z
          .strictObject({
            issuer: z.url({ protocol: /^https?$/ }),
            clientId: z.string().min(1),
            clientSecretFile: filePath.optional(),
            scopes: z.array(z.string()).default(['openid', 'profile', 'email']),
            allowPrivateNetwork: z.boolean().default(false),
          })
          .optional(),
        /** Issuers of `subject_token`s (user): IdP ID/access tokens or gateway-signed user assertions. */
        subjectIssuers: z.array(jwtIssuer).default([]),
        /** Issuers of `actor_token`s (agent): SPIFFE JWT-SVIDs or agent assertions. */
        actorIssuers: z.array(jwtIssuer).default([]),
        /** Tolerance for `exp`/`nbf`/`iat`; at most 60 s. */
        clockSkewSeconds: z.number().int().min(0).max(60).default(30),
        /**
         * Longest `exp − iat` a subject or actor token may have, so a leaked one is useful only briefly;
         * a token without `iat` is refused while a maximum is set. `null`: no maximum.
         */
        maxTokenLifetimeSeconds: z.number().int().min(60).max(2_592_000).nullable().default(3600),
      })
      .prefault({}),
    /** Consent pages: browser sessions, link state and the upstream revocation retry worker. */
    linking: z
      .strictObject({
        sessionTtlSeconds: z.number().int().min(60).max(86_400).default(28_800),
        /** Lifetime of a sign-in or link `state`: at most 10 minutes, the most RFC 6749 §4.1.2 recommends for the code it comes back with. */
        stateTtlSeconds: z.number().int().min(1).max(600).default(600),
        revocationRetry: z
          .strictObject({
            intervalMs: z.number().int().min(50).max(3_600_000).default(30_000),
            /** First retry delay; doubles per attempt up to maxDelayMs. */
            baseDelayMs: z.number().int().min(10).max(3_600_000).default(60_000),
            maxDelayMs: z.number().int().min(10).max(86_400_000).default(3_600_000),
          })
          .prefault({}),
      })
      .prefault({}),
    /** Grants: how long a retired (unlinked, re-linked or revoked) grant stays listable as a tombstone, without any secret. */
    grants: z
      .strictObject({
        tombstoneRetentionDays: z.number().int().min(1).max(3_650).default(30),
      })
      .prefault({}),
    webhooks: webhooksSchema,
    /** Requests awaiting approval (operations with `approval: user | admin`, src/approvals/). */
    approvals: z
      .strictObject({
        /** How long an approver has, and then the gateway to collect the token (OpenID CIBA Core 1.0 §7.3 `expires_in`). */
        ttlSeconds: z.number().int().min(10).max(86_400).default(600),
        /** The least time between two polls (CIBA §7.3 `interval`); a poll sooner is `slow_down`. */
        pollIntervalSeconds: z.number().int().min(1).max(60).default(5),
      })
      .prefault({}),
    /** Provider catalog (see src/providers/schema.ts). */
    providers: z.record(providerId, providerSchema).default({}),
    /** Agent registry: the admin ceiling of which agents may ever do which operations. */
    agents: z.record(identity, agentSchema).default({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    // A console identity has no rights of its own only if it is not also a gateway.
    for (const id of c.admins.consoles) {
      if (c.gateways.allow.includes(id) || c.admins.allow.includes(id)) {
        ctx.addIssue({ code: 'custom', path: ['admins', 'consoles'], message: 'a console identity must not also be a gateway or admin identity' });
      }
    }
    c.webhooks.endpoints.forEach((endpoint, i) => {
      if (c.mode === 'production' && !endpoint.url.startsWith('https:')) {
        ctx.addIssue({ code: 'custom', path: ['webhooks', 'endpoints', i, 'url'], message: 'must be https outside dev mode' });
      }
    });
    if (c.admins.consoles.length > 0 && c.admins.jwt === undefined) {
      ctx.addIssue({ code: 'custom', path: ['admins', 'jwt'], message: 'required when admins.consoles is set' });
    }
  });

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
