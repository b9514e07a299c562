/**
 * Tracing off (the default): no SDK module is loaded, nothing is exported, no trace id
 * appears in the logs, and audit keeps reading the caller's traceparent.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, tracingOn } from '../../../src/tracing/setup.js';
import { AGENT_A, exchangeParams, startExchangeVault, type ExchangeVault } from '../../helpers/exchange-fixture.js';
import { startOtlpReceiver, type OtlpReceiver } from '../../helpers/otlp-receiver.js';

const GATEWAY_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const loaded = () => Object.keys(createRequire(import.meta.url).cache).filter((p) => /@opentelemetry[/\\](?:sdk-|exporter-)|@fastify[/\\]otel/.test(p));

let receiver: OtlpReceiver;
let vault: ExchangeVault;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  for (const key of Object.keys(process.env)) if (key.startsWith('OTEL_')) delete process.env[key];
});
afterAll(async () => {
  await vault?.close();
  await receiver?.close();
});

describe('tracing off', () => {
  it('OTEL_SDK_DISABLED=true wins over an exporter endpoint', async () => {
    expect(await startTracing({ OTEL_SDK_DISABLED: 'true', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.tracesUrl })).toBe(false);
  });

  it('with no OTEL_* variable, an exchange loads no SDK module and exports nothing', async () => {
    expect(await startTracing(process.env)).toBe(false);
    expect(tracingOn()).toBe(false);
    vault = await startExchangeVault();
    await vault.seedGrant('alice');
    const res = await vault.exchange(await exchangeParams(vault.ids, 'alice', AGENT_A), { traceparent: `00-${GATEWAY_TRACE}-00f067aa0ba902b7-01` });
    expect(res.status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    expect(receiver.bodies).toStrictEqual([]);
    expect(loaded()).toStrictEqual([]);
    expect(vault.logs.entries().filter((e) => 'trace_id' in e || 'span_id' in e)).toStrictEqual([]);
    const record = (await vault.auditRecords()).find((r) => r.action === 'token.exchange');
    expect(record?.traceId).toBe(GATEWAY_TRACE);
  });
});
