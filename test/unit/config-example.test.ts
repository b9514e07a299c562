/**
 * config.example.yaml is a configuration the vault accepts: loaded by the real loader
 * (src/config/load.ts), with the files it names created in a temporary directory.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';

const ROOT = '/etc/token-vault/';
let dir: string;
let text: string;
let config: Config;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tv-example-'));
  text = await readFile(new URL('../../config.example.yaml', import.meta.url), 'utf8');
  // Every file the example names under /etc/token-vault/ is created under the temporary directory.
  const named = [...new Set(text.match(/\/etc\/token-vault\/[\w./-]+/g) ?? [])];
  for (const path of named) {
    const local = join(dir, path.slice(ROOT.length));
    await mkdir(path.endsWith('/keys') ? local : dirname(local), { recursive: true });
    if (!path.endsWith('/keys')) await writeFile(local, 'placeholder', { mode: 0o600 });
  }
  const file = join(dir, 'config.yaml');
  await writeFile(file, text.replaceAll(ROOT, `${dir}/`));
  config = loadConfig({ TOKEN_VAULT_CONFIG: file });
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('config.example.yaml', () => {
  it('is accepted by the loader, in production mode', () => {
    expect(config.mode).toBe('production');
    expect(config.store.kind).toBe('redis');
  });

  it('configures Salesforce, ServiceNow, the organisation IdP and one agent issuer', () => {
    expect(Object.fromEntries(Object.entries(config.providers).map(([id, p]) => [id, p.kind]))).toStrictEqual({
      salesforce: 'salesforce',
      servicenow: 'servicenow',
    });
    expect(config.identity.login?.issuer).toBe('https://login.example.com');
    expect(config.identity.subjectIssuers.map((i) => i.issuer)).toStrictEqual(['https://login.example.com']);
    expect(config.identity.actorIssuers).toHaveLength(1);
    expect(Object.keys(config.agents)).toHaveLength(1);
  });

  it('names only example hosts (and Salesforce’s public login host)', () => {
    const hosts = [...new Set([...text.matchAll(/[a-z]+s?:\/\/([^/:\s'"]+)/g)].map((m) => m[1]!))];
    const unexpected = hosts.filter((host) => !/(^|\.)example\.com$/.test(host) && host !== 'login.salesforce.com');
    expect(unexpected).toStrictEqual([]);
  });

  it('keeps no secret inline: every secret is a file path', () => {
    const raw = parse(text) as { providers: Record<string, Record<string, unknown>> };
    for (const provider of Object.values(raw.providers)) {
      expect(provider).not.toHaveProperty('clientSecret');
      expect(String(provider.clientSecretFile)).toMatch(/^\/etc\/token-vault\/secrets\//);
    }
  });
});
