/**
 * Standard Webhooks signatures: `webhook-signature: v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>`
 * over the message id, the attempt's Unix time in seconds and the exact body sent. The secret is
 * written `whsec_<base64>`; the key is the decoded bytes.
 */
import { createHmac } from 'node:crypto';

const SECRET_PREFIX = 'whsec_';
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

/** The HMAC key of a `whsec_…` secret, or the reason it is unusable (never quoting the secret). */
export function parseWebhookSecret(text: string): { key: Buffer } | { problem: string } {
  if (!text.startsWith(SECRET_PREFIX)) return { problem: `must start with ${SECRET_PREFIX}` };
  const encoded = text.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return { problem: `must be ${SECRET_PREFIX} followed by base64` };
  const key = Buffer.from(encoded, 'base64');
  if (key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) return { problem: `key must be ${MIN_KEY_BYTES} to ${MAX_KEY_BYTES} bytes` };
  return { key };
}

/** The three Standard Webhooks headers of one attempt. */
export function webhookHeaders(key: Buffer, messageId: string, timestampSeconds: number, body: string): Record<string, string> {
  const signature = createHmac('sha256', key).update(`${messageId}.${timestampSeconds}.${body}`).digest('base64');
  return { 'webhook-id': messageId, 'webhook-timestamp': String(timestampSeconds), 'webhook-signature': `v1,${signature}` };
}
