import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    environment: 'node',
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Real servers (Redis, HTTPS, oidc-provider) per file; two cores on CI machines.
    maxWorkers: 2,
    reporters: ['default'],
  },
});
