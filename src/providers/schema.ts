/**
 * Provider catalog as configuration data. A provider is one OAuth
 * authorization server plus the API behind it; its operations are the units
 * an agent may be allowed to do. Kinds `salesforce` and `servicenow` are
 * templates that derive endpoints from a host; `oauth2` lists endpoints;
 * `oidc` discovers them from an issuer.
 */
import { z } from 'zod';
import { filePath } from '../config/fields.js';

/** Provider ids and local operation names: lowercase, stable, safe in URLs and keys. */
export const providerId = z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be lowercase letters, digits and dashes (max 40)');
export const operationName = z.string().regex(/^[a-z][a-z0-9_.-]{0,63}$/, 'must be lowercase letters, digits, "_", "." and "-" (max 64)');
/** Full operation name as agents request it: `<provider>:<operation>`. */
export const fullOperationName = z.string().regex(/^[a-z][a-z0-9-]{0,39}:[a-z][a-z0-9_.-]{0,63}$/, 'must be "<provider>:<operation>"');

/**
 * Path patterns for /forward: literal segments, `*` for exactly one segment,
 * and a final `**` for any remaining segments. No dot segments, no encoded slashes.
 */
export const pathPattern = z
  .string()
  .regex(/^(\/([A-Za-z0-9_~\-.]+|\*|\{[a-z_]+\}))+(\/\*\*)?$|^\/\*\*$/, 'must be /segments with "*" or a final "/**"')
  .refine((p) => !p.split('/').some((s) => s === '.' || s === '..'), 'must not contain dot segments');

const httpMethod = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

const httpsUrl = z.url({ protocol: /^https?$/ });

export const operationSchema = z.strictObject({
  /** Shown to users on the consent page. */
  description: z.string().min(1).max(200),
  /** Upstream scopes this operation needs (must be within the provider's scopes). */
  scopes: z.array(z.string().min(1)).default([]),
  methods: z.array(httpMethod).min(1),
  paths: z.array(pathPattern).min(1),
  /** Operation-token lifetime ceiling: default 60 s, at most 15 min (MAX_OPERATION_TOKEN_TTL_MS in src/crypto/key-custodian.ts). */
  maxTtlSeconds: z.number().int().min(1).max(900).default(60),
  uses: z.number().int().min(1).max(1000).default(1),
  /** Whether the raw upstream access token may be released to the gateway. */
  releaseUpstreamToken: z.boolean().default(false),
  /**
   * Who approves each use before any token exists (src/approvals/): nobody, the user on the
   * consent pages, or the security team through the admin API. A token minted after approval
   * allows exactly the approved method, path and body once.
   */
  approval: z.enum(['none', 'user', 'admin']).default('none'),
});

const common = {
  displayName: z.string().min(1).max(80),
  clientId: z.string().min(1).max(512),
  /** Path to a file holding the client secret (mode 0600); never inline. */
  clientSecretFile: filePath.optional(),
  /** Upstream scopes requested when linking. */
  scopes: z.array(z.string().min(1)).default([]),
  operations: z.record(operationName, operationSchema).refine((ops) => Object.keys(ops).length > 0, 'at least one operation'),
  /**
   * Allow outbound calls to loopback/private/link-local addresses for this provider.
   * Off by default (SSRF defence); dev and tests turn it on for local servers.
   */
  allowPrivateNetwork: z.boolean().default(false),
  /** Timeout of each outbound call to this provider. */
  timeoutMs: z.number().int().min(100).max(30_000).default(5_000),
};

export const providerSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('salesforce'),
    ...common,
    /** `https://login.salesforce.com`, `https://test.salesforce.com` or a My Domain URL. */
    loginUrl: httpsUrl.default('https://login.salesforce.com'),
    /** Salesforce token responses carry no `expires_in`: the org's session timeout. */
    sessionLifetimeSeconds: z.number().int().min(60).max(86_400).default(7_200),
    /**
     * Hosts a grant's `instance_url` may name, where /forward sends the upstream token: an exact
     * host, or a suffix starting with a dot. Salesforce's own domains by default.
     */
    instanceHosts: z
      .array(
        z
          .string()
          .max(253)
          .regex(/^\.?[a-z0-9-]+(\.[a-z0-9-]+)*$/i, 'a host name or a .suffix'),
      )
      .min(1)
      .default(['.salesforce.com', '.force.com', '.salesforce.mil']),
  }),
  z.strictObject({
    kind: z.literal('servicenow'),
    ...common,
    /** `https://<instance>.service-now.com`: endpoints and API base live here. */
    instanceUrl: httpsUrl,
    accessTokenLifetimeSeconds: z.number().int().min(60).max(86_400).default(1_800),
  }),
  z.strictObject({
    kind: z.literal('oauth2'),
    ...common,
    authorizationEndpoint: httpsUrl,
    tokenEndpoint: httpsUrl,
    revocationEndpoint: httpsUrl.optional(),
    introspectionEndpoint: httpsUrl.optional(),
    apiBaseUrl: httpsUrl,
    accessTokenLifetimeSeconds: z.number().int().min(60).max(86_400).default(3_600),
  }),
  z.strictObject({
    kind: z.literal('oidc'),
    ...common,
    /** Discovery: `<issuer>/.well-known/openid-configuration`. */
    issuer: httpsUrl,
    apiBaseUrl: httpsUrl,
    accessTokenLifetimeSeconds: z.number().int().min(60).max(86_400).default(3_600),
  }),
]);

export const agentSchema = z.strictObject({
  displayName: z.string().min(1).max(80),
  /** The admin ceiling: operations this agent may ever perform, `<provider>:<operation>`. */
  operations: z.array(fullOperationName).default([]),
});

export type ProviderConfig = z.infer<typeof providerSchema>;
export type OperationConfig = z.infer<typeof operationSchema>;
export type AgentConfig = z.infer<typeof agentSchema>;
