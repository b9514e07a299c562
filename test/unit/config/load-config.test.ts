import { mkdtemp, mkdir, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, ConfigError } from '../../../src/config/load.js';

let dir: string;

function errorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tv-config-'));
  await mkdir(join(dir, 'keys'));
  for (const f of ['server.crt', 'server.key', 'ca.crt']) await writeFile(join(dir, f), 'placeholder');
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const valid = () => ({
  mode: 'production',
  publicUrl: 'https://vault.example.test',
  tls: { cert: 'server.crt', key: 'server.key', gatewayCa: 'ca.crt' },
  gateways: { allow: ['spiffe://corp.example/gateway'] },
  keys: { dir: 'keys' },
  store: { redis: { url: 'redis://127.0.0.1:6379' } },
});

async function writeConfig(name: string, value: unknown): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, name.endsWith('.json') ? JSON.stringify(value) : (await import('yaml')).stringify(value));
  return path;
}

describe('configuration', () => {
  it('loads a YAML file, resolves relative paths against its directory and applies defaults', async () => {
    const path = await writeConfig('ok.yaml', valid());
    const config = loadConfig({ TOKEN_VAULT_CONFIG: path });
    expect(config.tls.cert).toBe(join(dir, 'server.crt'));
    expect(config.keys.dir).toBe(join(dir, 'keys'));
    expect(config.listeners).toStrictEqual({
      public: { host: '0.0.0.0', port: 8443 },
      internal: { host: '0.0.0.0', port: 9443 },
      metrics: { enabled: true, host: '127.0.0.1', port: 9464 },
    });
    expect(config.limits.bodyBytes).toBe(65_536);
    expect(config.store).toStrictEqual({
      kind: 'redis',
      redis: {
        mode: 'standalone',
        url: 'redis://127.0.0.1:6379',
        keyPrefix: 'tv:',
        commandTimeoutMs: 500,
        connectTimeoutMs: 1000,
        minReplicasAck: 0,
        replicaAckTimeoutMs: 250,
      },
    });
  });

  it('reaches a Cluster or a Sentinel set through nodes, with an ACL user and its password file next to the config', async () => {
    await writeFile(join(dir, 'redis-password'), 'placeholder');
    const cluster = { mode: 'cluster', nodes: ['rediss://10.0.0.1:6380', 'rediss://10.0.0.2:6380'], username: 'vault', passwordFile: 'redis-password' };
    const config = loadConfig({ TOKEN_VAULT_CONFIG: await writeConfig('cluster.yaml', { ...valid(), store: { redis: cluster } }) });
    expect(config.store.redis).toStrictEqual({
      ...cluster,
      passwordFile: join(dir, 'redis-password'),
      keyPrefix: 'tv:',
      commandTimeoutMs: 500,
      connectTimeoutMs: 1000,
      minReplicasAck: 0,
      replicaAckTimeoutMs: 250,
    });
    // WAIT reaches the master owning each written key (src/store/redis/replicas.ts), so a Cluster takes minReplicasAck too.
    const acked = { mode: 'cluster', nodes: ['redis://10.0.0.1:6379'], minReplicasAck: 1, replicaAckTimeoutMs: 400 };
    expect(loadConfig({ TOKEN_VAULT_CONFIG: await writeConfig('cluster-ack.yaml', { ...valid(), store: { redis: acked } }) }).store.redis).toStrictEqual({
      ...acked,
      keyPrefix: 'tv:',
      commandTimeoutMs: 500,
      connectTimeoutMs: 1000,
    });
    const sentinel = { mode: 'sentinel', nodes: ['redis://10.0.0.1:26379'], masterName: 'vault' };
    expect(loadConfig({ TOKEN_VAULT_CONFIG: await writeConfig('sentinel.yaml', { ...valid(), store: { redis: sentinel } }) }).store.redis.masterName).toBe(
      'vault',
    );
  });

  it('names what each Redis mode lacks or does not use, and refuses credentials in a node address', async () => {
    const bad = async (name: string, redis: object) => {
      const path = await writeConfig(name, { ...valid(), store: { redis } });
      return errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: path })).problems;
    };
    expect(await bad('s1.yaml', { mode: 'sentinel', url: 'redis://10.0.0.1:6379' })).toStrictEqual([
      'store.redis.url: not used in mode sentinel: list the sentinels in nodes',
      'store.redis.nodes: required in mode sentinel',
      'store.redis.masterName: required in mode sentinel',
    ]);
    expect(
      await bad('c1.yaml', { mode: 'cluster', nodes: ['redis://10.0.0.1:6379', 'rediss://10.0.0.2:6379'], masterName: 'x', passwordFile: 'gone' }),
    ).toStrictEqual(['store.redis.nodes: mixes redis:// and rediss://', 'store.redis.masterName: only for mode sentinel']);
    expect(await bad('c2.yaml', { mode: 'cluster', nodes: ['redis://user:CANARY@10.0.0.1:6379'] })).toStrictEqual([
      'store.redis.nodes.0: must be redis://host:port or rediss://host:port (no credentials: use username and passwordFile)',
    ]);
    expect(await bad('s2.yaml', { url: 'redis://10.0.0.1:6379', nodes: ['redis://10.0.0.1:6379'], masterName: 'x' })).toStrictEqual([
      'store.redis.nodes: only for mode sentinel or cluster (standalone uses url)',
      'store.redis.masterName: only for mode sentinel',
    ]);
    expect(await bad('c3.yaml', { mode: 'cluster', nodes: ['redis://10.0.0.1:6379'], passwordFile: 'gone' })).toStrictEqual([
      `store.redis.passwordFile: file not found or not readable: ${join(dir, 'gone')}`,
    ]);
  });

  it('loads JSON and lets environment variables override the file', async () => {
    const path = await writeConfig('ok.json', valid());
    const config = loadConfig({
      TOKEN_VAULT_CONFIG: path,
      TOKEN_VAULT_INTERNAL_PORT: '19443',
      TOKEN_VAULT_PUBLIC_HOST: '127.0.0.1',
      REDIS_URL: 'redis://10.0.0.1:6380',
      LOG_LEVEL: 'warn',
    });
    expect(config.listeners.internal.port).toBe(19443);
    expect(config.listeners.public.host).toBe('127.0.0.1');
    expect(config.store.redis.url).toBe('redis://10.0.0.1:6380');
    expect(config.log.level).toBe('warn');
  });

  it('defaults both listeners to TLS 1.3 and TLS 1.2 ECDHE with AEAD suites, and refuses a cipher list OpenSSL does not accept', async () => {
    const config = loadConfig({ TOKEN_VAULT_CONFIG: await writeConfig('tls.yaml', valid()) });
    expect(config.tls.minVersion).toBe('TLSv1.2');
    expect(
      config.tls.ciphers
        .split(':')
        .every((suite) => suite.startsWith('TLS_') || /^ECDHE-(ECDSA|RSA)-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305)$/.test(suite)),
    ).toBe(true);
    const path = await writeConfig('bad-tls.yaml', { ...valid(), tls: { ...valid().tls, ciphers: 'NO-SUCH-SUITE', minVersion: 'TLSv1' } });
    const text = errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: path })).problems.join('\n');
    expect(text).toContain('tls.ciphers');
    expect(text).toContain('tls.minVersion');
  });

  it('limits identity tokens to an hour by default; null lifts the limit, below a minute is refused', async () => {
    expect(loadConfig({ TOKEN_VAULT_CONFIG: await writeConfig('life.yaml', valid()) }).identity.maxTokenLifetimeSeconds).toBe(3600);
    const unlimited = await writeConfig('life-null.yaml', { ...valid(), identity: { maxTokenLifetimeSeconds: null } });
    expect(loadConfig({ TOKEN_VAULT_CONFIG: unlimited }).identity.maxTokenLifetimeSeconds).toBeNull();
    const tiny = await writeConfig('life-tiny.yaml', { ...valid(), identity: { maxTokenLifetimeSeconds: 5 } });
    expect(errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: tiny })).problems.join('\n')).toContain('identity.maxTokenLifetimeSeconds');
  });

  it('reports every bad value at once, each named', async () => {
    const bad = {
      ...valid(),
      surprise: true,
      listeners: { public: { port: 'eighty' }, internal: { port: 70000 } },
      tls: { cert: 'missing.crt', key: 'server.key', gatewayCa: 'ca.crt', clientSecret: 'inline' },
      gateways: { allow: [] },
      keys: { dir: 'no-such-dir' },
      store: { kind: 'redis', redis: { url: 'http://not-redis', commandTimeoutMs: 5000 } },
      limits: { bodyBytes: 10 },
    };
    const path = await writeConfig('bad.yaml', bad);
    const err = errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: path, TOKEN_VAULT_PUBLIC_PORT: 'abc' }));
    const text = err.problems.join('\n');
    for (const expected of [
      'TOKEN_VAULT_PUBLIC_PORT: must be an integer',
      '(root): unknown key(s) "surprise"',
      'listeners.public.port',
      'listeners.internal.port',
      'tls: unknown key(s) "clientSecret"',
      'gateways.allow',
      'store.redis.url',
      'store.redis.commandTimeoutMs',
      'limits.bodyBytes',
    ]) {
      expect(text).toContain(expected);
    }
    expect(err.message).toContain('invalid configuration');
    expect(err.problems.length).toBeGreaterThanOrEqual(9);
  });

  it('names missing files and directories referenced by the config', async () => {
    const path = await writeConfig('missing.yaml', {
      ...valid(),
      tls: { cert: 'gone.crt', key: 'server.key', gatewayCa: 'ca.crt', adminCa: 'admin-ca.crt' },
      keys: { dir: 'nokeys' },
    });
    const err = errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: path }));
    expect(err.problems).toStrictEqual([
      `tls.cert: file not found or not readable: ${join(dir, 'gone.crt')}`,
      `tls.adminCa: file not found or not readable: ${join(dir, 'admin-ca.crt')}`,
      `keys.dir: directory not found: ${join(dir, 'nokeys')}`,
    ]);
  });

  it('refuses the memory store and a missing Redis URL in production', async () => {
    const path = await writeConfig('prod-memory.yaml', { ...valid(), store: { kind: 'memory' } });
    const err = errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: path }));
    expect(err.problems).toStrictEqual([
      'store.kind: production mode requires "redis" (the memory store is for dev only)',
      'store.redis.url: required in production mode (or set REDIS_URL)',
    ]);
  });

  it('names a config file that does not exist or does not parse', async () => {
    expect(errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: join(dir, 'nope.yaml') })).problems[0]).toBe(`${join(dir, 'nope.yaml')}: file not found`);
    await writeFile(join(dir, 'broken.json'), '{ not json');
    expect(errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: join(dir, 'broken.json') })).problems[0]).toBe(
      `${join(dir, 'broken.json')}: cannot be read or parsed (syntax error)`,
    );
  });

  it('never echoes a value in its messages', async () => {
    const path = await writeConfig('echo.yaml', { ...valid(), publicUrl: 'http://CANARY-SECRET-VALUE' });
    const err = errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: path }));
    expect(err.message).not.toContain('CANARY-SECRET-VALUE');
  });

  it('refuses an admin console that is also a gateway or admin, and consoles without admin JWTs', async () => {
    const jwt = { issuer: 'https://idp.example.test', jwksUri: 'https://idp.example.test/jwks', audience: 'vault-admin', group: 'admins' };
    const shared = await writeConfig('console-shared.yaml', {
      ...valid(),
      admins: { allow: ['spiffe://corp.example/admin'], consoles: ['spiffe://corp.example/gateway'], jwt },
    });
    expect(errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: shared })).problems.join('\n')).toContain('admins.consoles');
    const noJwt = await writeConfig('console-nojwt.yaml', { ...valid(), admins: { consoles: ['spiffe://corp.example/console'] } });
    expect(errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: noJwt })).problems.join('\n')).toContain('admins.jwt');
    const both = await writeConfig('console-jwks.yaml', {
      ...valid(),
      admins: { consoles: ['spiffe://corp.example/console'], jwt: { ...jwt, jwksFile: 'jwks.json' } },
    });
    expect(errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: both })).problems.join('\n')).toContain('exactly one of jwksUri or jwksFile');
    const good = await writeConfig('console-ok.yaml', { ...valid(), admins: { consoles: ['spiffe://corp.example/console'], jwt } });
    expect(loadConfig({ TOKEN_VAULT_CONFIG: good }).admins).toStrictEqual({
      allow: [],
      consoles: ['spiffe://corp.example/console'],
      jwt: { ...jwt, groupClaim: 'groups', algorithms: ['EdDSA', 'ES256', 'RS256'], allowPrivateNetwork: false },
    });
  });

  it('resolves webhook endpoint files against the config file, and wants https and unique names in production', async () => {
    const endpoint = { name: 'siem', url: 'https://siem.example.test/hooks', events: ['grant.revoked'], secretFile: 'siem.secret', caFile: 'siem-ca.pem' };
    const good = await writeConfig('webhooks-ok.yaml', { ...valid(), webhooks: { endpoints: [endpoint] } });
    expect(loadConfig({ TOKEN_VAULT_CONFIG: good }).webhooks).toStrictEqual({
      endpoints: [{ ...endpoint, secretFile: join(dir, 'siem.secret'), caFile: join(dir, 'siem-ca.pem'), allowPrivateNetwork: false }],
      timeoutMs: 10_000,
      maxAttempts: 10,
      baseDelayMs: 5_000,
      maxDelayMs: 3_600_000,
      concurrency: 4,
      intervalMs: 1_000,
    });
    const bad = await writeConfig('webhooks-bad.yaml', {
      ...valid(),
      webhooks: { endpoints: [{ ...endpoint, events: ['grant.deleted'] }] },
    });
    expect(errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: bad })).problems).toStrictEqual([
      'webhooks.endpoints.0.events.0: Invalid option: expected one of "approval.requested"|"approval.decided"|"grant.needs_relink"|"grant.revoked"|"kill_switch.changed"',
    ]);
    const twice = await writeConfig('webhooks-twice.yaml', { ...valid(), webhooks: { endpoints: [endpoint, endpoint] } });
    expect(errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: twice })).problems).toStrictEqual(['webhooks.endpoints: endpoint names must be unique']);
    const plain = await writeConfig('webhooks-http.yaml', { ...valid(), webhooks: { endpoints: [{ ...endpoint, url: 'http://siem.example.test/hooks' }] } });
    expect(errorOf(() => loadConfig({ TOKEN_VAULT_CONFIG: plain })).problems).toStrictEqual(['webhooks.endpoints.0.url: must be https outside dev mode']);
  });
});
