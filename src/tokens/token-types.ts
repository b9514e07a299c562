/**
 * The OAuth vocabulary operation tokens are issued and described in: the RFC 8693 grant type
 * and token type identifiers (RFC 8693 §3), and one RFC 9396 authorization-details entry.
 */
import { z } from 'zod';
import type { BoundAction } from '../store/token-store.js';

export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
/** OpenID CIBA Core 1.0 §10.1: the poll for a token once a request awaiting approval is decided. */
export const GRANT_TYPE_CIBA = 'urn:openid:params:grant-type:ciba';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

/** RFC 9110 §9: the methods an operation can name (providers/schema.ts). */
const method = z.enum(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE']);

/** The longest agent summary of an action (shown as text on the approval page). */
export const SUMMARY_MAX_LENGTH = 200;

/**
 * One RFC 9396 entry as the vault understands it. `method`, `path` and `body_sha256` (RFC 9396
 * §2: type-specific fields) bind the entry to one exact request at /forward: the path under
 * `/forward/<provider>` with its query, as sent, and base64url SHA-256 of the body bytes (of
 * the empty string when there is none). `summary` is the agent's words for a human approver.
 */
export const authorizationDetail = z
  .strictObject({
    type: z.string().min(1).max(40),
    actions: z.array(z.string().min(1).max(105)).length(1),
    locations: z.array(z.string().max(2_048)).max(4).optional(),
    /** A grant id: must be the verified user's grant for this provider. */
    identifier: z.string().min(1).max(128).optional(),
    method: method.optional(),
    path: z.string().startsWith('/').max(2_048).optional(),
    body_sha256: z
      .string()
      .regex(/^[A-Za-z0-9_-]{43}$/)
      .optional(),
    summary: z.string().min(1).max(SUMMARY_MAX_LENGTH).optional(),
  })
  // The action is bound whole or not at all: a method without its body digest binds nothing.
  .refine((d) => new Set([d.method, d.path, d.body_sha256].map((v) => v === undefined)).size === 1);

export type AuthorizationDetail = z.infer<typeof authorizationDetail>;

export type { BoundAction };

export function boundAction(detail: AuthorizationDetail | undefined): BoundAction | undefined {
  if (!detail?.method || detail.path === undefined || detail.body_sha256 === undefined) return undefined;
  return { method: detail.method, path: detail.path, bodySha256: detail.body_sha256 };
}
