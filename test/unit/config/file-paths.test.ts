import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { filePathFields, resolveFilePaths } from '../../../src/config/file-paths.js';
import { configSchema } from '../../../src/config/schema.js';

const fields = filePathFields(configSchema);

describe('paths in a configuration file', () => {
  it('are every file and directory field of the schema, in records and arrays too', () => {
    expect(fields.map((f) => f.join('.')).sort()).toStrictEqual(
      [
        'admins.jwt.jwksFile',
        'audit.archive.postgres.connectionFile',
        'audit.archive.postgres.migrationConnectionFile',
        'audit.archive.postgres.ssl.caFile',
        'audit.checkpointFile',
        'identity.actorIssuers.*.jwksFile',
        'identity.login.clientSecretFile',
        'identity.subjectIssuers.*.jwksFile',
        'keys.dir',
        'providers.*.clientSecretFile',
        'store.redis.passwordFile',
        'store.redis.sentinelPasswordFile',
        'store.redis.tlsCaFile',
        'store.spoolDir',
        'tls.adminCa',
        'tls.cert',
        'tls.gatewayCa',
        'tls.key',
        'webhooks.endpoints.*.caFile',
        'webhooks.endpoints.*.secretFile',
      ].sort(),
    );
  });

  it('leaves no string field named like a file outside that list (a new one must use filePath)', () => {
    const named: string[] = [];
    const walk = (node: unknown, path: string[]): void => {
      if (typeof node !== 'object' || node === null) return;
      const n = node as Record<string, unknown>;
      if (n['type'] === 'string' && /(File|Dir|Ca|^cert|^key|^dir)$/.test(path.at(-1) ?? '')) named.push(path.join('.'));
      for (const [k, v] of Object.entries((n['properties'] as Record<string, unknown>) ?? {})) walk(v, [...path, k]);
      walk(n['additionalProperties'], [...path, '*']);
      walk(n['items'], [...path, '*']);
      for (const k of ['anyOf', 'oneOf', 'allOf']) for (const v of (n[k] as unknown[]) ?? []) walk(v, path);
    };
    walk(z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }), []);
    expect([...new Set(named)].sort()).toStrictEqual(fields.map((f) => f.join('.')).sort());
  });

  it('resolve against the file directory when relative, and stay as written when absolute', async () => {
    const raw = {
      tls: { cert: 'tls/server.crt', key: '/abs/server.key' },
      store: { spoolDir: 'spool', redis: { passwordFile: 'secrets/redis' } },
      identity: { subjectIssuers: [{ issuer: 'a', jwksFile: 'jwks/users.json' }], actorIssuers: [{ issuer: 'b', jwksUri: 'https://x.test/jwks' }] },
      providers: { crm: { clientSecretFile: 'secrets/crm' }, itsm: { clientId: 'x' } },
      audit: { archive: { postgres: { connectionFile: 'secrets/pg', ssl: { caFile: 'pg-ca.crt' } } } },
      webhooks: { endpoints: [{ name: 'siem', secretFile: 'secrets/wh' }] },
    };
    resolveFilePaths(raw, fields, '/etc/vault');
    expect(raw).toStrictEqual({
      tls: { cert: '/etc/vault/tls/server.crt', key: '/abs/server.key' },
      store: { spoolDir: '/etc/vault/spool', redis: { passwordFile: '/etc/vault/secrets/redis' } },
      identity: { subjectIssuers: [{ issuer: 'a', jwksFile: '/etc/vault/jwks/users.json' }], actorIssuers: [{ issuer: 'b', jwksUri: 'https://x.test/jwks' }] },
      providers: { crm: { clientSecretFile: '/etc/vault/secrets/crm' }, itsm: { clientId: 'x' } },
      audit: { archive: { postgres: { connectionFile: '/etc/vault/secrets/pg', ssl: { caFile: '/etc/vault/pg-ca.crt' } } } },
      webhooks: { endpoints: [{ name: 'siem', secretFile: '/etc/vault/secrets/wh' }] },
    });
  });
});
