/** The `webhooks` section of the configuration (src/config/schema.ts): endpoints and delivery limits. */
import { z } from 'zod';
import { filePath } from './fields.js';

/** Event types a webhook endpoint can subscribe to (the payloads: src/webhooks/events.ts). */
export const WEBHOOK_EVENTS = ['approval.requested', 'approval.decided', 'grant.needs_relink', 'grant.revoked', 'kill_switch.changed'] as const;

/** Outgoing events, signed per Standard Webhooks and delivered with retries (src/webhooks/). */
export const webhooksSchema = z
  .strictObject({
    endpoints: z
      .array(
        z.strictObject({
          /** Names the endpoint in deliveries, logs and metric labels (never the URL). */
          name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'lower-case letters, digits, - and _'),
          /** https; plain http only in dev mode. */
          url: z.url({ protocol: /^https?$/ }),
          events: z.array(z.enum(WEBHOOK_EVENTS)).min(1),
          /** File holding the signing secret `whsec_<base64 of 24 to 64 random bytes>`; never inline. */
          secretFile: filePath,
          /** CA bundle (PEM) the endpoint's certificate must chain to, instead of the system roots (a private CA). */
          caFile: filePath.optional(),
          /** Allow a loopback/private/link-local address (off: SSRF defence, src/net/outbound.ts). */
          allowPrivateNetwork: z.boolean().default(false),
        }),
      )
      .default([])
      .refine((list) => new Set(list.map((e) => e.name)).size === list.length, 'endpoint names must be unique'),
    /** Each attempt's deadline, connection to last byte of the answer. */
    timeoutMs: z.number().int().min(100).max(60_000).default(10_000),
    /** Attempts before a delivery is dead-lettered (visible in the admin API, redeliverable). */
    maxAttempts: z.number().int().min(1).max(50).default(10),
    /** First retry delay; doubles per attempt up to maxDelayMs, with jitter. */
    baseDelayMs: z.number().int().min(10).max(3_600_000).default(5_000),
    maxDelayMs: z.number().int().min(10).max(86_400_000).default(3_600_000),
    /** Attempts in flight per endpoint and process: a slow endpoint holds only its own. */
    concurrency: z.number().int().min(1).max(64).default(4),
    /** How often each process looks for due deliveries. */
    intervalMs: z.number().int().min(10).max(60_000).default(1_000),
  })
  .prefault({});
