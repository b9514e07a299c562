/**
 * Loads the configuration: file (YAML or JSON, path from TOKEN_VAULT_CONFIG),
 * then environment overrides, then one zod parse. This module is the only
 * reader of process.env.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { resolve, dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { filePathFields, resolveFilePaths, type FieldPattern } from './file-paths.js';
import { configSchema, type Config } from './schema.js';
import { ProviderCatalog } from '../providers/catalog.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
  readonly code = 'TV_CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Env = Record<string, string | undefined>;

/** Environment variables that override config file values (documented in README). */
const ENV_OVERRIDES: ReadonlyArray<[string, string[], 'string' | 'int']> = [
  ['TOKEN_VAULT_MODE', ['mode'], 'string'],
  ['TOKEN_VAULT_PUBLIC_URL', ['publicUrl'], 'string'],
  ['TOKEN_VAULT_PUBLIC_HOST', ['listeners', 'public', 'host'], 'string'],
  ['TOKEN_VAULT_PUBLIC_PORT', ['listeners', 'public', 'port'], 'int'],
  ['TOKEN_VAULT_INTERNAL_HOST', ['listeners', 'internal', 'host'], 'string'],
  ['TOKEN_VAULT_INTERNAL_PORT', ['listeners', 'internal', 'port'], 'int'],
  ['TOKEN_VAULT_METRICS_HOST', ['listeners', 'metrics', 'host'], 'string'],
  ['TOKEN_VAULT_METRICS_PORT', ['listeners', 'metrics', 'port'], 'int'],
  ['TOKEN_VAULT_KEYS_DIR', ['keys', 'dir'], 'string'],
  ['REDIS_URL', ['store', 'redis', 'url'], 'string'],
  ['LOG_LEVEL', ['log', 'level'], 'string'],
];

/**
 * The file-path fields of the schema: relative paths in a file are relative to the file's directory.
 * Read off the schema (≈ 20 ms) on the first load of a file, not when this module is imported.
 */
let fileFields: FieldPattern[] | undefined;

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function formatIssues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length ? issue.path.join('.') : '(root)';
    // Messages from zod describe the expectation, not the value: no secret can leak here.
    if (issue.code === 'unrecognized_keys') return `${where}: unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    return `${where}: ${issue.message}`;
  });
}

/** Parse an already-merged raw object (used by tests and dev mode). */
export function parseConfig(raw: unknown, problems: string[] = []): Config {
  const result = configSchema.safeParse(raw);
  const all = [...problems, ...(result.success ? [] : formatIssues(result.error))];
  if (result.success) all.push(...crossChecks(result.data));
  if (all.length > 0 || !result.success) throw new ConfigError(all);
  return result.data;
}

function crossChecks(config: Config): string[] {
  const problems: string[] = [...ProviderCatalog.problems(config.providers, config.agents)];
  const files: Array<[string, string | undefined]> = [
    ['tls.cert', config.tls.cert],
    ['tls.key', config.tls.key],
    ['tls.gatewayCa', config.tls.gatewayCa],
    ['tls.adminCa', config.tls.adminCa],
    ['store.redis.passwordFile', config.store.redis.passwordFile],
    ['store.redis.sentinelPasswordFile', config.store.redis.sentinelPasswordFile],
    ['store.redis.tlsCaFile', config.store.redis.tlsCaFile],
  ];
  for (const [field, path] of files) {
    if (path === undefined) continue;
    try {
      accessSync(path, constants.R_OK);
    } catch {
      problems.push(`${field}: file not found or not readable: ${path}`);
    }
  }
  try {
    if (!statSync(config.keys.dir).isDirectory()) problems.push(`keys.dir: not a directory: ${config.keys.dir}`);
  } catch {
    problems.push(`keys.dir: directory not found: ${config.keys.dir}`);
  }
  if (config.mode === 'production') {
    if (config.store.kind !== 'redis') problems.push('store.kind: production mode requires "redis" (the memory store is for dev only)');
    if (!config.store.redis.url && config.store.redis.mode === 'standalone') problems.push('store.redis.url: required in production mode (or set REDIS_URL)');
    if (!config.publicUrl) problems.push('publicUrl: required in production mode');
  } else if (config.store.kind === 'redis' && !config.store.redis.url && config.store.redis.mode === 'standalone') {
    problems.push('store.redis.url: required when store.kind is "redis" (or set REDIS_URL)');
  }
  if (config.identity.login && !config.publicUrl) problems.push('publicUrl: required when identity.login is set (OAuth redirect URIs)');
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Deep merge of plain objects; `over` wins, arrays are replaced whole. */
function merge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isRecord(current) && isRecord(value) ? merge(current, value) : value;
  }
  return out;
}

/**
 * Read the file named by TOKEN_VAULT_CONFIG (if any) over `defaults`, apply env
 * overrides, validate. `defaults` is how dev mode supplies its generated setup.
 */
export function loadConfig(env: Env = process.env, defaults: Record<string, unknown> = {}): Config {
  const problems: string[] = [];
  let raw: Record<string, unknown> = {};
  const file = env.TOKEN_VAULT_CONFIG;
  if (file) {
    const path = resolve(file);
    try {
      const text = readFileSync(path, 'utf8');
      const parsed: unknown = /\.json$/i.test(path) ? JSON.parse(text) : parseYaml(text);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        problems.push(`${path}: must contain a mapping at the top level`);
      } else {
        raw = parsed as Record<string, unknown>;
        resolveFilePaths(raw, (fileFields ??= filePathFields(configSchema)), dirname(path));
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      problems.push(code === 'ENOENT' ? `${path}: file not found` : `${path}: cannot be read or parsed (${code ?? 'syntax error'})`);
    }
  }
  for (const [name, path, type] of ENV_OVERRIDES) {
    const value = env[name];
    if (value === undefined || value === '') continue;
    if (type === 'int') {
      if (!/^\d+$/.test(value)) {
        problems.push(`${name}: must be an integer`);
        continue;
      }
      setPath(raw, path, Number(value));
    } else {
      setPath(raw, path, value);
    }
  }
  raw = merge(defaults, raw);
  if (env.REDIS_URL) setPath(raw, ['store', 'kind'], 'redis');
  return parseConfig(raw, problems);
}
