import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile, cp, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Redis } from 'ioredis';
import { createTestPki, type TestPki } from '../helpers/vault.js';
import { startRedis } from '../helpers/redis-server.js';
import { startRedisTls } from '../helpers/redis-tls-server.js';
import { createCa } from '../../src/dev/pki.js';

let pki: TestPki;
let work: string;

beforeAll(async () => {
  pki = await createTestPki();
  work = await mkdtemp(join(tmpdir(), 'tv-prod-'));
});
afterAll(async () => {
  await rm(work, { recursive: true, force: true });
  await rm(pki.dir, { recursive: true, force: true });
});

/**
 * Runs the production entry point (src/main.ts) and returns its exit code and output.
 * With `untilListening`, stops it with SIGTERM once it logs that it listens.
 */
function runMain(configPath: string, untilListening = false): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env.PATH ?? '', TOKEN_VAULT_CONFIG: configPath },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let signalled = false;
    child.stdout.on('data', (c: Buffer) => {
      stdout += c.toString();
      // One signal only: close-with-grace treats a second one as "exit now" (code 1).
      if (untilListening && !signalled && stdout.includes('token vault listening')) {
        signalled = true;
        child.kill('SIGTERM');
      }
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

async function productionConfig(name: string, keysDir: string, redisUrl = 'redis://127.0.0.1:1', extra: Record<string, unknown> = {}): Promise<string> {
  const path = join(work, `${name}.yaml`);
  await writeFile(
    path,
    stringify({
      mode: 'production',
      publicUrl: 'https://vault.example.test',
      listeners: { public: { host: '127.0.0.1', port: 0 }, internal: { host: '127.0.0.1', port: 0 }, metrics: { host: '127.0.0.1', port: 0 } },
      tls: { cert: join(pki.dir, 'server.crt'), key: join(pki.dir, 'server.key'), gatewayCa: join(pki.dir, 'ca.crt') },
      gateways: { allow: ['spiffe://dev.local/gateway'] },
      keys: { dir: keysDir },
      store: { redis: { url: redisUrl } },
      ...extra,
    }),
  );
  return path;
}

describe('production start-up', () => {
  it('exits non-zero naming the missing key files when the keys directory is empty', async () => {
    const empty = join(work, 'empty-keys');
    await cp(pki.dir, empty, { recursive: true, filter: (src) => !/\.(key)$/.test(src) || src.endsWith('server.key') });
    for (const f of ['ca.key', 'gateway.key', 'admin.key', 'other.key', 'server.key']) await unlink(join(empty, f)).catch(() => undefined);
    const { code, stderr, stdout } = await runMain(await productionConfig('nokeys', empty));
    expect(code).not.toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toContain('cannot start');
    expect(stderr).toMatch(/kek-/);
    expect(stderr).toMatch(/signing-/);
    expect(stderr).toContain('audit-hmac.key');
  });

  it('exits non-zero naming a key file that others can read', async () => {
    const loose = join(work, 'loose-keys');
    await cp(pki.dir, loose, { recursive: true });
    await chmod(join(loose, 'kek-1.key'), 0o644);
    const { code, stderr } = await runMain(await productionConfig('loose', loose));
    expect(code).not.toBe(0);
    expect(stderr).toContain(join(loose, 'kek-1.key'));
    const kek = (await import('node:fs')).readFileSync(join(loose, 'kek-1.key'), 'utf8').trim();
    expect(stderr).not.toContain(kek);
  });

  it('exits non-zero listing every invalid configuration value', async () => {
    const path = join(work, 'bad.yaml');
    await writeFile(path, stringify({ mode: 'production', gateways: { allow: 'not-a-list' }, extra: 1 }));
    const { code, stderr } = await runMain(path);
    expect(code).not.toBe(0);
    expect(stderr).toContain('invalid configuration');
    for (const field of ['tls', 'keys', 'gateways.allow', '"extra"']) expect(stderr).toContain(field);
  });

  it('starts against a durable Redis, shuts down on SIGTERM, and refuses a Redis without AOF', async () => {
    const redis = await startRedis();
    try {
      const path = await productionConfig('durable', pki.dir, redis.url);
      const started = await runMain(path, true);
      expect(started.stdout).toContain('token vault listening');
      expect(started.code).toBe(0);

      const client = new Redis(redis.url);
      await client.config('SET', 'appendonly', 'no');
      await client.config('SET', 'maxmemory-policy', 'allkeys-lru');
      await client.quit();
      const refused = await runMain(path);
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('redis: appendonly is off');
      expect(refused.stderr).toContain('redis: maxmemory-policy is allkeys-lru, must be noeviction');
    } finally {
      await redis.stop();
    }
  });

  it('refuses to start on an audit trail written under another chain count', async () => {
    const redis = await startRedis();
    try {
      const started = await runMain(await productionConfig('chains16', pki.dir, redis.url), true);
      expect([started.code, started.stdout.includes('token vault listening')]).toStrictEqual([0, true]);
      const other = join(work, 'checkpoint-chains4.json');
      const refused = await runMain(await productionConfig('chains4', pki.dir, redis.url, { audit: { chains: 4, checkpointFile: other } }));
      expect(refused.code).not.toBe(0);
      expect(refused.stderr).toContain('audit.chains: the audit trail in Redis was written with 16 chains, not 4');
    } finally {
      await redis.stop();
    }
  }, 90_000);

  it('starts on a TLS-only Redis as its ACL user, and refuses a wrong password or a certificate from another CA, saying which', async () => {
    const redis = await startRedisTls();
    try {
      const file = async (name: string, content: string) => {
        const path = join(work, name);
        await writeFile(path, content, { mode: 0o600 });
        return path;
      };
      const otherCa = await createCa({ commonName: 'Another test CA (fake)' });
      const wrongPassword = `not-${redis.password}`;
      const store = (passwordFile: string, tlsCaFile: string) => ({
        store: { redis: { url: redis.url, username: redis.username, passwordFile, tlsCaFile } },
        audit: { checkpointFile: join(work, 'checkpoint-tls.json') },
      });
      const [password, wrong, ca, other] = await Promise.all([
        file('redis-password', redis.password),
        file('redis-wrong-password', wrongPassword),
        file('redis-ca.crt', redis.caPem),
        file('other-ca.crt', otherCa.certPem),
      ]);

      const started = await runMain(await productionConfig('tls', pki.dir, redis.url, store(password, ca)), true);
      expect([started.code, started.stdout.includes('token vault listening')]).toStrictEqual([0, true]);

      const refusedPassword = await runMain(await productionConfig('tls-wrong-password', pki.dir, redis.url, store(wrong, ca)));
      expect(refusedPassword.code).not.toBe(0);
      expect(refusedPassword.stderr).toContain('store.redis.username, store.redis.passwordFile: Redis refused the credentials (WRONGPASS)');
      expect(refusedPassword.stderr + refusedPassword.stdout).not.toContain(wrongPassword);

      const refusedCertificate = await runMain(await productionConfig('tls-other-ca', pki.dir, redis.url, store(password, other)));
      expect(refusedCertificate.code).not.toBe(0);
      expect(refusedCertificate.stderr).toContain("store.redis.tlsCaFile: the Redis server's TLS certificate was not accepted (SELF_SIGNED_CERT_IN_CHAIN)");
    } finally {
      await redis.stop();
    }
  }, 90_000);
});
