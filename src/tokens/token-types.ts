/**
 * The OAuth vocabulary operation tokens are issued and described in: the RFC 8693 grant type
 * and token type identifiers (RFC 8693 §3), and one RFC 9396 authorization-details entry.
 */
import { z } from 'zod';

export const GRANT_TYPE_TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

/** One RFC 9396 entry as the vault understands it. */
export const authorizationDetail = z.strictObject({
  type: z.string().min(1).max(40),
  actions: z.array(z.string().min(1).max(105)).length(1),
  locations: z.array(z.string().max(2_048)).max(4).optional(),
  /** A grant id: must be the verified user's grant for this provider. */
  identifier: z.string().min(1).max(128).optional(),
});

export type AuthorizationDetail = z.infer<typeof authorizationDetail>;
