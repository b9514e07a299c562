/**
 * The emitter queues one delivery per subscribed endpoint under one message id, and a queue that
 * cannot be written never reaches its caller: it is logged (no secret, no body) and counted.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { LogCapture } from '../../helpers/log-capture.js';
import { MemoryWebhookQueue } from '../../../src/store/memory/webhook-queue.js';
import { StoreUnavailableError } from '../../../src/store/errors.js';
import { createWebhookEmitter, type DeliveryOutcome } from '../../../src/webhooks/emitter.js';
import type { WebhookEvent, WebhookEventType } from '../../../src/webhooks/events.js';

const endpoints = [
  { name: 'siem', events: new Set<WebhookEventType>(['grant.revoked', 'kill_switch.changed']) },
  { name: 'pager', events: new Set<WebhookEventType>(['kill_switch.changed']) },
];
const event: WebhookEvent = { type: 'kill_switch.changed', data: { scope: 'agent', target: 'spiffe://corp.example/agent/a', engaged: true, epoch: 7 } };

function recorder() {
  const counted: [string, string, DeliveryOutcome][] = [];
  return { counted, metrics: { delivery: (e: string, ep: string, o: DeliveryOutcome) => void counted.push([e, ep, o]) } };
}

describe('webhook emitter', () => {
  it('queues one delivery per subscribed endpoint, one message id and body for all', async () => {
    const queue = new MemoryWebhookQueue();
    const { counted, metrics } = recorder();
    const emitter = createWebhookEmitter({ queue, endpoints, log: pino({ level: 'silent' }), metrics, now: () => Date.UTC(2026, 11, 2) });
    await emitter.emit(event);
    await emitter.emit({
      type: 'approval.decided',
      data: { approval: 'a', agent: 'g', provider: 'p', operation: 'o', approver: 'user', decision: 'denied', decidedBy: 'user' },
    });
    const { items } = await queue.list({}, 10);
    const messageId = items[0]!.messageId;
    expect(messageId).toMatch(/^msg_[A-Za-z0-9_-]{22}$/);
    const body = JSON.stringify({ type: 'kill_switch.changed', timestamp: '2026-12-02T00:00:00.000Z', data: event.data });
    const common = {
      messageId,
      event: 'kill_switch.changed',
      body,
      createdAt: Date.UTC(2026, 11, 2),
      status: 'pending',
      attempts: 0,
      nextAttemptAt: Date.UTC(2026, 11, 2),
    };
    expect(items).toStrictEqual([
      { id: `${messageId}.siem`, endpoint: 'siem', ...common },
      { id: `${messageId}.pager`, endpoint: 'pager', ...common },
    ]);
    expect(counted).toStrictEqual([
      ['kill_switch.changed', 'siem', 'queued'],
      ['kill_switch.changed', 'pager', 'queued'],
    ]);
  });

  it('never rejects: a failed enqueue is logged by type and counted', async () => {
    const queue = new MemoryWebhookQueue();
    queue.enqueue = () => Promise.reject(new StoreUnavailableError('store unreachable'));
    const logs = new LogCapture();
    const { counted, metrics } = recorder();
    await expect(createWebhookEmitter({ queue, endpoints, log: pino(logs), metrics }).emit(event)).resolves.toBeUndefined();
    expect(counted).toStrictEqual([
      ['kill_switch.changed', 'siem', 'enqueue_failed'],
      ['kill_switch.changed', 'pager', 'enqueue_failed'],
    ]);
    expect(
      logs
        .text()
        .trim()
        .split('\n')
        .map((l) => {
          const { level, webhook, endpoint, err, msg } = JSON.parse(l) as Record<string, unknown>;
          return { level, webhook, endpoint, err, msg };
        }),
    ).toStrictEqual(
      ['siem', 'pager'].map((endpoint) => ({
        level: 50,
        webhook: 'kill_switch.changed',
        endpoint,
        err: { type: 'StoreUnavailableError' },
        msg: 'webhook event could not be queued',
      })),
    );
  });
});
