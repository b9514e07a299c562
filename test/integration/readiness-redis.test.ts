import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/https-client.js';
import { startRedis, type RedisHandle } from '../helpers/redis-server.js';
import { startVault, type TestVault } from '../helpers/vault.js';

let redis: RedisHandle;
let vault: TestVault;

beforeAll(async () => {
  redis = await startRedis();
  vault = await startVault({ redisUrl: redis.url });
});
afterAll(async () => {
  await vault.close();
  await redis.stop();
});

describe('readiness with Redis', () => {
  it('is ready while Redis answers, fails within 1 s once Redis is killed, and recovers after a restart', async () => {
    const ok = await call(`${vault.internalUrl}/readyz`, { ca: vault.pki.ca, client: vault.pki.gateway });
    expect(ok.json()).toStrictEqual({ status: 'ok', checks: { store: 'ok', keys: 'ok' } });

    await redis.kill();
    for (const url of [vault.publicUrl, vault.internalUrl]) {
      const started = performance.now();
      const down = await call(`${url}/readyz`, { ca: vault.pki.ca, client: vault.pki.gateway });
      const elapsed = performance.now() - started;
      expect(down.status).toBe(503);
      expect(down.json()).toStrictEqual({ status: 'unavailable', checks: { store: 'fail', keys: 'ok' } });
      expect(down.headers['retry-after']).toBe('1');
      // A fail-fast bound (the "within 1 s"), not a performance measurement.
      expect(elapsed).toBeLessThan(1000);
    }
    // Liveness is about the process only.
    expect((await call(`${vault.publicUrl}/healthz`, { ca: vault.pki.ca })).status).toBe(200);

    await redis.restart();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      status = (await call(`${vault.publicUrl}/readyz`, { ca: vault.pki.ca })).status;
      if (status !== 200) await new Promise((r) => setTimeout(r, 100));
    }
    expect(status).toBe(200);
  });
});
