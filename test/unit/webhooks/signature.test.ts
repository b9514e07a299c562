/**
 * Standard Webhooks signatures as the `standardwebhooks` package (a verifier written outside this
 * repository) computes and checks them, and the secrets the vault accepts.
 */
import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { parseWebhookSecret, webhookHeaders } from '../../../src/webhooks/signature.js';

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const key = (parseWebhookSecret(secret) as { key: Buffer }).key;

describe('webhook signatures', () => {
  it('are what the reference implementation signs and verifies', () => {
    const body = JSON.stringify({ type: 'grant.revoked', timestamp: '2026-12-02T04:00:00.000Z', data: { grant: 'g-1' } });
    const now = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders(key, 'msg_abc', now, body);
    expect(headers).toStrictEqual({
      'webhook-id': 'msg_abc',
      'webhook-timestamp': String(now),
      'webhook-signature': new Webhook(secret).sign('msg_abc', new Date(now * 1000), body),
    });
    expect(new Webhook(secret).verify(body, headers)).toStrictEqual(JSON.parse(body));
  });

  it('fail verification for another body, id, timestamp or key', () => {
    const now = Math.floor(Date.now() / 1000);
    const headers = webhookHeaders(key, 'msg_abc', now, '{"a":1}');
    const verify =
      (body: string, h: Record<string, string>, s = secret) =>
      () =>
        new Webhook(s).verify(body, h);
    expect(verify('{"a":2}', headers)).toThrow('No matching signature found');
    expect(verify('{"a":1}', { ...headers, 'webhook-id': 'msg_abd' })).toThrow('No matching signature found');
    expect(verify('{"a":1}', { ...headers, 'webhook-timestamp': String(now + 1) })).toThrow('No matching signature found');
    expect(verify('{"a":1}', headers, `whsec_${randomBytes(32).toString('base64')}`)).toThrow('No matching signature found');
  });

  it('need a whsec_ secret of 24 to 64 bytes, and say why without quoting it', () => {
    expect(parseWebhookSecret(randomBytes(32).toString('base64'))).toStrictEqual({ problem: 'must start with whsec_' });
    expect(parseWebhookSecret('whsec_not base64!')).toStrictEqual({ problem: 'must be whsec_ followed by base64' });
    expect(parseWebhookSecret(`whsec_${randomBytes(16).toString('base64')}`)).toStrictEqual({ problem: 'key must be 24 to 64 bytes' });
    expect(parseWebhookSecret(`whsec_${randomBytes(65).toString('base64')}`)).toStrictEqual({ problem: 'key must be 24 to 64 bytes' });
    expect(parseWebhookSecret(`whsec_${Buffer.alloc(24, 7).toString('base64')}`)).toStrictEqual({ key: Buffer.alloc(24, 7) });
  });
});
