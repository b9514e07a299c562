/**
 * Canary scan for /forward: drive forwards through success, an upstream 401
 * with refresh rotation, a refused POST, refusals, and two broken upstream
 * endpoints that echo the injected Authorization (in the body, in a header);
 * then look for every upstream access and refresh token in every response
 * header and body the gateway saw, in every log line the vault wrote and in
 * its `/metrics` text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openAccessToken, openRefreshToken } from '../../../src/grants/secrets.js';
import { rawForward, startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';
import type { Response } from '../../helpers/https-client.js';
import { scrapeMetrics } from '../../helpers/metrics-scrape.js';
import { withRequestId } from '../../helpers/request-id.js';

let w: ForwardWorld;

beforeAll(async () => {
  w = await startForwardWorld();
});
afterAll(() => w?.close());

describe('canary scan', () => {
  it('no upstream access or refresh token in any response header, body, log line or metric the gateway side sees', async () => {
    const seen: string[] = [];
    const keep = (res: Response | null) => {
      if (res) seen.push(JSON.stringify(res.headers), res.text);
      return res;
    };
    // A broken upstream may get the vault to cut the answer short: the gateway then sees what arrived, or nothing.
    const forward = (...args: Parameters<ForwardWorld['forward']>) => w.forward(...args).then(keep, () => null);

    expect((await forward('/records/1', await w.operationToken()))?.status).toBe(200);
    await (await w.oauth.provider.AccessToken.find(w.upstream.accessToken))!.destroy();
    expect((await forward('/records/2', await w.operationToken()))?.status).toBe(200);
    w.crm.rejectNext(1);
    expect(
      (await forward('/records', await w.operationToken('records.write'), { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } }))
        ?.status,
    ).toBe(502);

    const echoed = await forward('/echo-auth', await w.operationToken('debug.echo'));
    // Caught before the first byte was relayed: a clean 502 (a later chunk would cut the stream instead).
    expect(echoed?.json()).toStrictEqual(
      withRequestId(echoed!, { error: 'upstream_error', error_description: 'The upstream provider failed to answer correctly.' }),
    );
    expect((await forward('/leak-header', await w.operationToken('debug.echo')))?.status).toBe(502);

    const refused = await rawForward(w.vault, '/forward/crm/records/%2e%2e', await w.operationToken());
    seen.push(refused.text);
    expect(refused.status).toBe(403);
    expect((await forward('/records/3', 'not-a-token'))?.status).toBe(401);

    const grant = (await w.vault.runtime.stores.grants.get(w.grant.id))!;
    const cached = (await w.vault.runtime.stores.tokens.getAccessToken(grant.id))!;
    const secrets = new Set<string>([
      w.upstream.accessToken,
      w.upstream.refreshToken,
      openRefreshToken(w.vault.runtime.envelope, grant),
      openAccessToken(w.vault.runtime.envelope, grant, cached.ciphertext),
      ...w.crm.requests.map((r) => r.bearer!).filter(Boolean),
    ]);
    // Rotation happened and the CRM API really was called with the upstream tokens.
    expect(secrets.size).toBeGreaterThanOrEqual(4);
    expect(w.crm.requests.some((r) => r.url === '/api/echo-auth')).toBe(true);

    const haystacks = { responses: seen.join('\n'), logs: w.vault.logs.text(), metrics: (await scrapeMetrics(w.vault.metricsUrl)).text };
    expect(haystacks.logs).toContain('forward');
    expect(haystacks.metrics).toContain('tv_forward_upstream_duration_seconds_count{provider="crm",status="200"}');
    for (const [where, text] of Object.entries(haystacks)) {
      for (const secret of secrets) expect(text.includes(secret), `${where} contains an upstream token`).toBe(false);
    }
  });
});
