/**
 * Operability of a running vault: `/metrics` on its own plain-HTTP listener after an exchange and
 * a forward, with the expected series and only bounded labels; request ids from the gateway (or
 * made up) in the answer's header, in error bodies, in log lines and in audit records.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { userIdOf } from '../../src/identity/user-id.js';
import { AGENT_A, AGENT_B, exchangeParams } from '../helpers/exchange-fixture.js';
import { startForwardWorld, type ForwardWorld } from '../helpers/forward-fixture.js';
import { call } from '../helpers/https-client.js';
import { scrapeMetrics, seriesOf } from '../helpers/metrics-scrape.js';
import { requestIdOf, withRequestId } from '../helpers/request-id.js';

let w: ForwardWorld;

beforeAll(async () => {
  w = await startForwardWorld();
});
afterAll(() => w?.close());

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('metrics', () => {
  it('serves the exchange, forward, upstream, audit, Redis, kill-switch, grant and process series with bounded labels', async () => {
    const token = await w.operationToken();
    expect((await w.forward('/records/1', token)).status).toBe(200);
    // Refusals: an agent outside the configured ones, a provider outside the catalog, no route at all.
    const stranger = await w.vault.exchange(await exchangeParams(w.vault.ids, 'alice', 'spiffe://dev.local/agent/stranger', { scope: 'crm:records.read' }));
    expect(stranger.status).toBe(400);
    expect((await w.vault.exchange(await exchangeParams(w.vault.ids, 'alice', AGENT_B, { scope: 'crm:records.read' }))).status).not.toBe(200);
    expect((await call(`${w.vault.internalUrl}/forward/nowhere/x/1`, { ca: w.vault.pki.ca, client: w.vault.pki.gateway })).status).toBe(401);
    expect((await call(`${w.vault.publicUrl}/no/such/page?code=secret-query`, { ca: w.vault.pki.ca })).status).toBe(404);

    const scrape = await scrapeMetrics(w.vault.metricsUrl);
    expect(scrape.status).toBe(200);
    expect(scrape.contentType).toContain('text/plain');
    const { text } = scrape;
    for (const series of [
      'tv_http_request_duration_seconds_count{listener="internal",route="/exchange",status="200"}',
      'tv_http_request_duration_seconds_count{listener="internal",route="/forward/:provider/*",status="200"}',
      'tv_http_request_duration_seconds_count{listener="public",route="unmatched",status="404"}',
      'tv_exchanges_total{outcome="issued",agent="spiffe://dev.local/agent/a",provider="crm",operation="crm:records.read"}',
      'tv_exchanges_total{outcome="TV_INVALID_SCOPE",agent="other",provider="crm",operation="crm:records.read"}',
      'tv_forward_upstream_duration_seconds_count{provider="crm",status="200"}',
      'tv_upstream_token_cache_total{provider="crm",result="hit"}',
      'tv_audit_append_duration_seconds_count{outcome="ok"}',
      'tv_audit_append_records_count',
      'tv_audit_queue_depth',
      'tv_redis_command_duration_seconds_count{command="tokens.put"}',
      'tv_redis_command_duration_seconds_count{command="audit.append"}',
      'tv_kill_switch_snapshot_age_seconds',
      'tv_grants{status="active"}',
      'tv_grants_census_truncated',
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
    ]) {
      expect(seriesOf(text), series).toContain(series);
    }
    expect(text).toMatch(/^tv_grants\{status="active"\} 1$/m);
    expect(text).toMatch(/^tv_exchanges_total\{outcome="issued",agent="spiffe:\/\/dev\.local\/agent\/a",provider="crm",operation="crm:records\.read"\} 1$/m);

    // Bounded labels: agents from the configuration, providers and operations from the catalog,
    // routes as patterns; never a user id, a raw path, a query or a token.
    const values = (label: string) => new Set([...text.matchAll(new RegExp(`[{,]${label}="([^"]*)"`, 'g'))].map((m) => m[1]));
    expect([...values('agent')].every((a) => [AGENT_A, AGENT_B, 'other', 'none'].includes(a!))).toBe(true);
    expect([...values('provider')].every((p) => ['crm', 'other', 'none'].includes(p!))).toBe(true);
    expect([...values('route')].every((r) => r === 'unmatched' || !/\/records\/1|nowhere|\?/.test(r!))).toBe(true);
    for (const leak of ['alice', userIdOf(w.vault.ids.idp.issuer, 'alice'), 'stranger', 'nowhere', 'secret-query', token]) expect(text).not.toContain(leak);
  });

  it('serves nothing but /metrics on its listener, and /metrics on no other listener', async () => {
    expect((await scrapeMetrics(w.vault.metricsUrl, '/healthz')).status).toBe(404);
    expect((await scrapeMetrics(w.vault.metricsUrl, '/metrics?x=1')).status).toBe(200);
    expect((await call(`${w.vault.publicUrl}/metrics`, { ca: w.vault.pki.ca })).status).toBe(404);
    expect((await call(`${w.vault.internalUrl}/metrics`, { ca: w.vault.pki.ca, client: w.vault.pki.gateway })).status).toBe(404);
  });
});

describe('request ids', () => {
  it('keeps a well-formed X-Request-Id from the gateway in the header, the log lines and the audit record', async () => {
    const id = 'gw-7f3a:req.42_x';
    const res = await w.vault.exchange(await exchangeParams(w.vault.ids, 'alice', AGENT_A, { scope: 'crm:records.read' }), { 'x-request-id': id });
    expect(res.status).toBe(200);
    expect(res.headers['x-request-id']).toBe(id);
    const records = (await w.vault.auditRecords()).filter((r) => r.requestId === id);
    expect(records.map((r) => [r.action, r.decision])).toStrictEqual([['token.exchange', 'allow']]);
    const lines = w.vault.logs
      .text()
      .split('\n')
      .filter((line) => line.includes(`"reqId":"${id}"`));
    expect(lines.length).toBeGreaterThanOrEqual(2);
  });

  it('replaces a malformed X-Request-Id and puts the id in every error body and its audit record', async () => {
    for (const bad of ['has space', 'x'.repeat(129), 'semi;colon', '']) {
      const res = await w.vault.exchange({ grant_type: 'refresh_token' }, { 'x-request-id': bad });
      expect(res.status).toBe(400);
      const id = requestIdOf(res);
      expect(id).toMatch(UUID);
      expect(res.json()).toStrictEqual(
        withRequestId(res, {
          error: 'unsupported_grant_type',
          error_description: 'grant_type is not supported',
        }),
      );
      expect((await w.vault.auditRecords()).filter((r) => r.requestId === id).map((r) => r.decision)).toStrictEqual(['deny']);
    }
    const forwarded = await w.forward('/records/1', 'not-a-token', { headers: { 'x-request-id': 'gw-forward-1' } });
    expect(forwarded.json()).toStrictEqual({
      error: 'invalid_token',
      error_description: 'The access token is invalid, expired or not usable for this request.',
      request_id: 'gw-forward-1',
    });
    expect((await w.vault.auditRecords()).filter((r) => r.requestId === 'gw-forward-1').map((r) => r.action)).toStrictEqual(['token.forward']);
  });
});
