/**
 * deploy/compose.yaml: the laptop stack. Its vault config is the file it mounts, validated by the
 * real loader and booted by the production entry point with the image's and the service's own
 * environment; the image's HEALTHCHECK command is run against it.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../../src/config/load.js';
import { call } from '../../helpers/https-client.js';
import { startRedis, type RedisHandle } from '../../helpers/redis-server.js';
import { createTestPki, type TestPki } from '../../helpers/vault.js';
import { bootMain, materialise, rebase, rebaseEnv, unmountedPaths, writeConfig, type BootedVault } from './boot.js';
import { healthcheckCommand, keyValues, readDockerfile, runtimeStage } from './dockerfile.js';

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  user?: string;
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  read_only?: boolean;
  tmpfs?: string[];
  cap_drop?: string[];
  security_opt?: string[];
  depends_on?: Record<string, { condition: string }>;
  healthcheck?: { test: string[] };
}

const COMPOSE_DIR = 'deploy';
const compose = parse(readFileSync(join(COMPOSE_DIR, 'compose.yaml'), 'utf8')) as {
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
};
const vault = compose.services['vault'] ?? {};
const redisService = compose.services['redis'] ?? {};

/** Short-syntax volumes: `source:target[:mode]`. */
const mounts = (vault.volumes ?? []).map((v) => {
  const [source = '', target = '', mode = 'rw'] = v.split(':');
  return { source, target, readOnly: mode === 'ro', bind: source.startsWith('.') || source.startsWith('/') };
});
const image = runtimeStage(readDockerfile());
/** What the container's process sees: the image's ENV, then the service's environment. */
const containerEnv = { ...keyValues(image, 'ENV'), ...(vault.environment ?? {}) };

function run(argv: string[], env: Record<string, string>): Promise<number | null> {
  const [command = '', ...args] = argv;
  return new Promise((done, fail) => {
    const child = spawn(command === 'node' ? process.execPath : command, args, { env: { PATH: process.env.PATH ?? '', ...env }, stdio: 'ignore' });
    child.once('error', fail);
    child.once('exit', done);
  });
}

describe('deploy/compose.yaml', () => {
  it('runs Redis with an append-only file and noeviction on a named volume', () => {
    const command = redisService.command ?? [];
    const flag = (name: string): string | undefined => command[command.indexOf(name) + 1];
    expect(command[0]).toBe('redis-server');
    expect(flag('--appendonly')).toBe('yes');
    expect(flag('--maxmemory-policy')).toBe('noeviction');
    expect(redisService.volumes).toContain('redis-data:/data');
    expect(compose.volumes).toHaveProperty('redis-data');
    expect(vault.depends_on?.['redis']?.condition).toBe('service_healthy');
  });

  it('builds the vault from the Dockerfile and runs it locked down, reachable from this machine only', () => {
    expect(vault.build).toStrictEqual({ context: '..', dockerfile: 'Dockerfile' });
    expect(resolve(COMPOSE_DIR, vault.build?.context ?? '', vault.build?.dockerfile ?? '')).toBe(resolve('Dockerfile'));
    expect(vault.read_only).toBe(true);
    expect(vault.cap_drop).toStrictEqual(['ALL']);
    expect(vault.security_opt).toContain('no-new-privileges:true');
    expect(vault.tmpfs).toContain('/tmp');
    expect(vault.user).not.toMatch(/^(0|root)(:|$)/);
    for (const port of vault.ports ?? []) expect(port).toMatch(/^127\.0\.0\.1:/);
    // Config and keys are bind mounts, read-only.
    for (const target of [containerEnv['TOKEN_VAULT_CONFIG'], containerEnv['TOKEN_VAULT_KEYS_DIR']]) {
      const mount = mounts.find((m) => m.target === target);
      expect(mount, `a mount at ${target}`).toBeDefined();
      expect(mount?.readOnly && mount.bind).toBe(true);
    }
  });

  describe('its vault config', () => {
    let pki: TestPki;
    let root: string;
    let redis: RedisHandle;
    let raw: Record<string, unknown>;
    let env: Record<string, string>;

    beforeAll(async () => {
      const configMount = mounts.find((m) => m.target === containerEnv['TOKEN_VAULT_CONFIG']);
      if (!configMount) throw new Error('compose.yaml mounts no file at TOKEN_VAULT_CONFIG');
      raw = parse(readFileSync(join(COMPOSE_DIR, configMount.source), 'utf8')) as Record<string, unknown>;
      pki = await createTestPki();
      root = await mkdtemp(join(tmpdir(), 'tv-compose-'));
      const rebased = rebase(raw, root);
      await materialise(rebased, pki);
      env = rebaseEnv(
        containerEnv,
        mounts.map((m) => m.target),
        root,
      );
      await writeConfig(env['TOKEN_VAULT_CONFIG'] ?? '', rebased);
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
      if (root) await rm(root, { recursive: true, force: true });
      if (pki) await rm(pki.dir, { recursive: true, force: true });
    });

    it('names only paths that compose.yaml mounts', () => {
      expect(
        unmountedPaths(
          raw,
          mounts.map((m) => m.target),
        ),
      ).toStrictEqual([]);
    });

    it('is a valid production config pointing at the compose Redis', () => {
      const config = loadConfig(env);
      expect(config.mode).toBe('production');
      expect(config.store.kind).toBe('redis');
      const url = new URL(config.store.redis.url ?? '');
      expect(Object.keys(compose.services)).toContain(url.hostname);
      expect(url.port).toBe('6379');
      expect(config.keys.dir).toBe(env['TOKEN_VAULT_KEYS_DIR']);
    });

    it('boots the production entry point, answers /healthz, passes the image HEALTHCHECK and stops cleanly', async () => {
      const booted: BootedVault = await bootMain(env, redis.url);
      let stopped = false;
      try {
        const health = await call(`${booted.publicUrl}/healthz`, { ca: pki.ca });
        expect(health.status).toBe(200);
        expect(health.json()).toStrictEqual({ status: 'ok' });
        const ready = await call(`${booted.publicUrl}/readyz`, { ca: pki.ca });
        expect(ready.json()).toStrictEqual({ status: 'ok', checks: { store: 'ok', keys: 'ok' } });

        const port = new URL(booted.publicUrl).port;
        const check = healthcheckCommand(image);
        expect(await run(check, { TOKEN_VAULT_PUBLIC_PORT: port })).toBe(0);

        stopped = true;
        expect(await booted.stop()).toBe(0);
        expect(await run(check, { TOKEN_VAULT_PUBLIC_PORT: port })).not.toBe(0);
      } finally {
        if (!stopped) await booted.stop();
      }
    });
  });
});
