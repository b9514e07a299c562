/**
 * Tracing on (OTLP/HTTP JSON to an in-process receiver): an exchange that refreshes
 * upstream and a /forward, traced end to end, and no secret in anything exported.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTracing, stopTracing } from '../../../src/tracing/setup.js';
import type { AuditRecord } from '../../../src/audit/events.js';
import { FAKE_CLIENT_SECRET } from '../../helpers/fake-providers/catalog.js';
import { AGENT_A, exchangeParams } from '../../helpers/exchange-fixture.js';
import { startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';
import { adminCall } from '../../helpers/admin-client.js';
import { attr, startOtlpReceiver, type OtlpReceiver, type OtlpSpan } from '../../helpers/otlp-receiver.js';

const GATEWAY_TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';
const GATEWAY_SPAN = '00f067aa0ba902b7';
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/;

let receiver: OtlpReceiver;
let w: ForwardWorld;
let spans: OtlpSpan[];
let audit: AuditRecord[];
const tokenCalls: Array<string | undefined> = [];
const secrets: string[] = [];
let forwardTraceparent: string;

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  for (const key of Object.keys(process.env)) if (key.startsWith('OTEL_')) delete process.env[key];
  Object.assign(process.env, {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: receiver.tracesUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
    OTEL_BSP_SCHEDULE_DELAY: '50',
  });
  expect(await startTracing(process.env)).toBe(true);
  w = await startForwardWorld();
  // Each successful token-endpoint grant (the refresh) reports the request it answered.
  w.oauth.provider.on('grant.success', (ctx) => tokenCalls.push(ctx.get('traceparent') || undefined));

  // The exchange finds no cached upstream token: it refreshes at the token endpoint.
  await w.vault.runtime.stores.tokens.dropAccessToken(w.grant.id);
  const params = await exchangeParams(w.vault.ids, 'alice', AGENT_A, { scope: 'crm:records.read' });
  const exchanged = await w.vault.exchange(params, { traceparent: `00-${GATEWAY_TRACE}-${GATEWAY_SPAN}-01` });
  expect(exchanged.status).toBe(200);
  const operationToken = exchanged.json<{ access_token: string }>().access_token;

  const forwarded = await w.forward('/records/42?fields=secret-query', operationToken);
  expect(forwarded.status).toBe(200);
  const seen = w.crm.requests.at(-1)!;
  forwardTraceparent = String(seen.headers.traceparent);

  // A malformed JSON body quoting a secret: the parser's message quotes its input.
  const malformed = await w.vault.exchange('c4n4ry', { 'content-type': 'application/json' });
  expect(malformed.status).toBe(400);
  secrets.push('c4n4ry');

  // An admin action without a traceparent: its audit record names the trace its request span started.
  const engaged = await adminCall(w.vault, '/admin/kill-switches', { method: 'POST', body: { scope: 'agent', target: AGENT_A, reason: 'traced' } });
  expect(engaged.status).toBe(200);
  expect((await adminCall(w.vault, `/admin/kill-switches/agent/${encodeURIComponent(AGENT_A)}`, { method: 'DELETE' })).status).toBe(200);

  secrets.push(params.subject_token!, params.actor_token!, operationToken, w.upstream.refreshToken, w.upstream.accessToken, FAKE_CLIENT_SECRET);
  for (const r of w.crm.requests) if (r.bearer) secrets.push(r.bearer);
  secrets.push('secret-query');
  // Flushes every ended span to the receiver.
  await stopTracing();
  spans = receiver.spans();
  audit = await w.vault.auditRecords();
});

afterAll(async () => {
  await stopTracing();
  await w?.close();
  await receiver?.close();
});

const named = (name: string) => spans.filter((s) => s.name === name);
const one = (name: string, traceId?: string) => {
  const found = named(name).filter((s) => traceId === undefined || s.traceId === traceId);
  expect(found, name).toHaveLength(1);
  return found[0]!;
};
const parentOf = (s: OtlpSpan) => spans.find((p) => p.spanId === s.parentSpanId);

describe('tracing on', () => {
  it('the exchange continues the gateway trace, with a child span per phase and the upstream refresh under it', () => {
    const request = one('POST /exchange', GATEWAY_TRACE);
    expect(request).toMatchObject({ traceId: GATEWAY_TRACE, parentSpanId: GATEWAY_SPAN });
    expect(attr(request, 'url.path')).toBe('/exchange');
    const exchange = one('exchange');
    expect(exchange.traceId).toBe(GATEWAY_TRACE);
    // exchange <- route handler span <- request span
    expect(parentOf(parentOf(exchange)!)).toBe(request);
    expect(Object.fromEntries(['vault.provider', 'vault.operation', 'vault.agent', 'vault.grant'].map((k) => [k, attr(exchange, k)]))).toStrictEqual({
      'vault.provider': 'crm',
      'vault.operation': 'crm:records.read',
      'vault.agent': AGENT_A,
      'vault.grant': w.grant.id,
    });
    for (const phase of ['exchange.identity', 'exchange.policy', 'exchange.grant', 'exchange.upstream', 'exchange.sign']) {
      expect(one(phase).parentSpanId, phase).toBe(exchange.spanId);
    }
    expect(named('exchange.kill-switches').map((s) => s.parentSpanId)).toStrictEqual([exchange.spanId, exchange.spanId]);
    const refresh = one('upstream.refresh');
    expect(refresh.parentSpanId).toBe(one('exchange.upstream').spanId);
    expect(attr(refresh, 'vault.grant')).toBe(w.grant.id);
    expect(one('upstream.token-request').parentSpanId).toBe(refresh.spanId);
    expect(one('exchange.audit').parentSpanId).toBe(parentOf(exchange)!.spanId);
  });

  it('the token endpoint call carries the traceparent of the refresh span', () => {
    expect(tokenCalls).toHaveLength(1);
    const [, traceId, parent] = TRACEPARENT.exec(tokenCalls[0] ?? '') ?? [];
    expect(traceId).toBe(GATEWAY_TRACE);
    expect(parent).toBe(one('upstream.token-request').spanId);
  });

  it('the /forward request to the provider carries the traceparent of its forward.upstream span', () => {
    const [, traceId, parent] = TRACEPARENT.exec(forwardTraceparent) ?? [];
    const upstream = one('forward.upstream');
    expect(upstream).toMatchObject({ traceId, spanId: parent });
    expect(attr(upstream, 'http.response.status_code')).toBe(200);
    const request = one('GET /forward/:provider/*', traceId);
    expect(attr(request, 'url.path')).toBe('/forward/:provider/*');
    expect(parentOf(parentOf(upstream)!)).toBe(request);
  });

  it("audit records carry the active span's trace id", () => {
    const exchange = audit.find((r) => r.action === 'token.exchange')!;
    const forward = audit.find((r) => r.action === 'token.forward')!;
    expect(exchange.traceId).toBe(GATEWAY_TRACE);
    expect(forward.traceId).toBe(one('forward.upstream').traceId);
    const admin = audit.filter((r) => r.action.startsWith('killswitch.'));
    expect(admin.map((r) => r.action)).toStrictEqual(['killswitch.engage', 'killswitch.release']);
    expect(admin.map((r) => r.traceId)).toStrictEqual([one('POST /admin/kill-switches').traceId, one('DELETE /admin/kill-switches/:scope/:target').traceId]);
  });

  it('log lines written during a request carry its trace and span ids', () => {
    const lines = w.vault.logs.entries().filter((e) => e.reqId !== undefined);
    expect(lines.length).toBeGreaterThan(0);
    const forwardTrace = one('forward.upstream').traceId;
    expect(lines.some((e) => e.trace_id === GATEWAY_TRACE && typeof e.span_id === 'string')).toBe(true);
    expect(lines.some((e) => e.trace_id === forwardTrace)).toBe(true);
  });

  it('the SDK was loaded (tracing-off.test.ts finds none of these modules)', () => {
    const sdk = Object.keys(createRequire(import.meta.url).cache).filter((p) => /@opentelemetry[/\\]sdk-node|@fastify[/\\]otel/.test(p));
    expect(sdk.length).toBeGreaterThan(0);
  });

  it('no token, secret or query string in anything exported', () => {
    expect(receiver.bodies.length).toBeGreaterThan(0);
    const exported = receiver.bodies.join('\n');
    for (const secret of secrets) expect(exported.includes(secret), `exported a secret (${secret.slice(0, 6)}…)`).toBe(false);
    expect(exported).not.toMatch(/authorization|bearer/i);
    // The malformed body's refusal: failed, with no error message (one may quote input).
    const refused = spans.filter((s) => s.name === 'POST /exchange' && s.traceId !== GATEWAY_TRACE);
    expect(refused.map((s) => [s.status?.code, s.status?.message ?? ''])).toStrictEqual([[2, '']]);
  });
});
