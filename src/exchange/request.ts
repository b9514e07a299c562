/**
 * The token-exchange request (RFC 8693 §2.1) as one zod schema: it types the
 * handler, validates the body and feeds openapi.yaml. A form body with a
 * parameter twice parses to an array and fails the schema (RFC 6749 §3.2:
 * parameters must not be included more than once).
 */
import { z } from 'zod';
import { GRANT_TYPE_CIBA, GRANT_TYPE_TOKEN_EXCHANGE, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT } from '../tokens/token-types.js';

const token = z.string().min(1).max(16_384);
const param = z.string().min(1).max(2_048);

export const exchangeRequest = z.object({
  grant_type: z.literal(GRANT_TYPE_TOKEN_EXCHANGE),
  subject_token: token,
  subject_token_type: z.enum([TOKEN_TYPE_JWT, TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_ACCESS_TOKEN]),
  actor_token: token.optional(),
  actor_token_type: z.literal(TOKEN_TYPE_JWT).optional(),
  /** The provider id or its API base URL (RFC 8707). */
  resource: param.optional(),
  /** The provider id (RFC 8693 §2.1). */
  audience: param.optional(),
  /** Exactly one operation, `<provider>:<operation>`. */
  scope: z
    .string()
    .regex(/^[a-z][a-z0-9-]{0,39}:[a-z][a-z0-9_.-]{0,63}$/)
    .optional(),
  /** RFC 9396: exactly one entry; a JSON string in a form body, an array in a JSON body. */
  authorization_details: z.union([z.string().min(2).max(4_096), z.array(z.record(z.string(), z.unknown())).min(1).max(1)]).optional(),
  requested_token_type: z.enum([TOKEN_TYPE_JWT, TOKEN_TYPE_ACCESS_TOKEN]).optional(),
});

export type ExchangeRequest = z.infer<typeof exchangeRequest>;

/**
 * The poll for an operation that awaited approval (OpenID CIBA Core 1.0 §10.1), with the same
 * identity tokens as the exchange that asked: the request is collected only by its gateway
 * certificate, for its agent and user.
 */
export const cibaPollRequest = exchangeRequest.pick({ subject_token: true, subject_token_type: true, actor_token: true, actor_token_type: true }).extend({
  grant_type: z.literal(GRANT_TYPE_CIBA),
  auth_req_id: z.string().min(1).max(128),
});

export type CibaPollRequest = z.infer<typeof cibaPollRequest>;

/** Either grant type /exchange serves. */
export const tokenRequest = z.discriminatedUnion('grant_type', [exchangeRequest, cibaPollRequest]);

/** What identifies the user and the agent, in both grant types. */
export type IdentityParams = Pick<ExchangeRequest, 'subject_token' | 'subject_token_type' | 'actor_token' | 'actor_token_type'>;

export const exchangeResponse = z.object({
  access_token: z.string(),
  issued_token_type: z.enum([TOKEN_TYPE_JWT, TOKEN_TYPE_ACCESS_TOKEN]),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int(),
  scope: z.string(),
  instance_url: z.string().optional(),
});
