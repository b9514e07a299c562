/** Zod pieces shared by the admin routes (bodies, errors). */
import { z } from 'zod';

/** The RFC 6749 §5.2 body the error handler sends, with its request id (src/http/error-handler.ts). */
export const errorBody = z.object({ error: z.string(), error_description: z.string(), request_id: z.string() });

/** The error answers every admin route can give (authentication, validation, store). */
export const adminErrors = { 400: errorBody, 401: errorBody, 403: errorBody, 503: errorBody } as const;

/** Ids named in requests: SPIFFE ids, CNs, user ids (`iss#sub`), grant and provider ids. */
export const targetId = z
  .string()
  .min(1)
  .max(512)
  .regex(/^[\x21-\x7e]+$/, 'printable ASCII without spaces');

/** The opaque cursor of a listing's next page. */
export const pageCursor = z
  .string()
  .max(1024)
  .regex(/^[A-Za-z0-9_-]+$/, 'opaque cursor');
