import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    environment: 'node',
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real servers (Redis, HTTPS, oidc-provider) per file; two cores on CI machines.
    maxWorkers: 2,
    reporters: ['default'],
    // `vitest run --project unit` gives feedback in seconds (no servers, no child processes);
    // `vitest run` runs both projects.
    projects: [
      {
        extends: true,
        test: { name: 'unit', include: ['test/unit/**/*.test.ts', 'test/contract/memory.test.ts'] },
      },
      {
        extends: true,
        // The Redis store contract starts its own redis-server, so it runs with the integration tests.
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts', 'test/contract/redis.test.ts', 'test/contract/redis-tls.test.ts'],
          exclude: ['test/integration/cluster/**'],
        },
      },
      {
        extends: true,
        // Redis Cluster and Sentinel: each file starts one topology (6 or 5 servers) and shares it.
        test: {
          name: 'topology',
          include: ['test/contract/redis-cluster.test.ts', 'test/contract/redis-sentinel.test.ts', 'test/integration/cluster/**/*.test.ts'],
        },
      },
    ],
  },
});
