/**
 * Boots the production entry point (src/main.ts) with a deployment's own config file and
 * environment, without containers: every path the deployment mounts is moved under a temp root
 * that holds generated keys and certificates, Redis is a private redis-server, and the listeners
 * bind to free loopback ports. Everything else is the deployment's config, unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cp, mkdir, writeFile, copyFile, access } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { stringify } from 'yaml';
import type { TestPki } from '../../helpers/vault.js';

/** Config keys whose values are file or directory paths (src/config/schema.ts, src/providers/schema.ts). */
const PATH_KEYS = new Set(['cert', 'key', 'gatewayCa', 'adminCa', 'dir', 'checkpointFile', 'clientSecretFile', 'jwksFile']);

/** Whether `path` is `mount` or inside it. */
function under(path: string, mount: string): boolean {
  return path === mount || path.startsWith(mount.endsWith('/') ? mount : `${mount}/`);
}

export interface PathRef {
  /** Dotted location in the config, e.g. `tls.cert`. */
  at: string;
  /** The path as the container sees it. */
  path: string;
}

/** Every file or directory path the config names, where it names it. */
export function configPaths(raw: unknown, at = ''): PathRef[] {
  if (typeof raw !== 'object' || raw === null) return [];
  const refs: PathRef[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const here = at ? `${at}.${key}` : key;
    if (typeof value === 'string' && PATH_KEYS.has(key)) refs.push({ at: here, path: value });
    else refs.push(...configPaths(value, here));
  }
  return refs;
}

/** Paths the config names that no mount provides (inside a container they would not exist). */
export function unmountedPaths(raw: unknown, mounts: readonly string[]): PathRef[] {
  return configPaths(raw).filter(({ path }) => !posix.isAbsolute(path) || !mounts.some((m) => under(path, m)));
}

/** The config (a deep copy) with every path moved under `root`. */
export function rebase<T>(raw: T, root: string): T {
  const walk = (value: unknown, key?: string): unknown => {
    if (typeof value === 'string') return key !== undefined && PATH_KEYS.has(key) ? join(root, value) : value;
    if (Array.isArray(value)) return value.map((v) => walk(v));
    if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, walk(v, k)]));
    return value;
  };
  return walk(raw) as T;
}

/** An environment variable whose value is a path under one of the mounts, moved under `root`. */
export function rebaseEnv(env: Record<string, string>, mounts: readonly string[], root: string): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, mounts.some((m) => under(v, m)) ? join(root, v) : v]));
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/**
 * Puts generated material where the (rebased) config expects it: the keys directory is a copy of
 * the test PKI directory (the keys/dev layout: kek, signing and audit keys plus the dev PKI), TLS
 * files the server certificate, key and CA, client secrets random owner-only files.
 */
export async function materialise(rebased: unknown, pki: TestPki): Promise<void> {
  const refs = configPaths(rebased);
  for (const { path } of refs.filter((r) => r.at === 'keys.dir')) {
    await mkdir(dirname(path), { recursive: true });
    await cp(pki.dir, path, { recursive: true });
  }
  const tlsSource: Record<string, string> = { 'tls.cert': 'server.crt', 'tls.key': 'server.key', 'tls.gatewayCa': 'ca.crt', 'tls.adminCa': 'ca.crt' };
  for (const { at, path } of refs) {
    if (at === 'keys.dir' || (await exists(path))) continue;
    await mkdir(dirname(path), { recursive: true });
    const source = tlsSource[at];
    if (source !== undefined) await copyFile(join(pki.dir, source), path);
    else if (at.endsWith('clientSecretFile')) await writeFile(path, randomBytes(24).toString('base64url'), { mode: 0o400 });
    else if (at === 'audit.checkpointFile') continue;
    else throw new Error(`no generated material for ${at}`);
  }
}

/** Writes `raw` as YAML at `path`, creating directories. */
export async function writeConfig(path: string, raw: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, stringify(raw));
}

export interface BootedVault {
  publicUrl: string;
  internalUrl: string;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
  output(): string;
}

/**
 * `node --import tsx src/main.ts` with exactly `env` (plus PATH), resolved once it logs that it
 * listens. The listeners go to free loopback ports and Redis to `redisUrl`, through the same
 * environment overrides an operator has (src/config/load.ts).
 */
export function bootMain(env: Record<string, string>, redisUrl: string): Promise<BootedVault> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: {
      PATH: process.env.PATH ?? '',
      ...env,
      TOKEN_VAULT_PUBLIC_HOST: '127.0.0.1',
      TOKEN_VAULT_PUBLIC_PORT: '0',
      TOKEN_VAULT_INTERNAL_HOST: '127.0.0.1',
      TOKEN_VAULT_INTERNAL_PORT: '0',
      TOKEN_VAULT_METRICS_PORT: '0',
      REDIS_URL: redisUrl,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vault did not start within 30 s:\n${output}`));
    }, 30_000);
    child.once('error', reject);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`vault exited with code ${code} before listening:\n${output}`));
    });
    const onData = (chunk: Buffer): void => {
      output += chunk.toString();
      // Complete lines only: the last element may be half a line.
      for (const line of output.split('\n').slice(0, -1)) {
        if (!line.includes('token vault listening')) continue;
        const { publicUrl, internalUrl } = JSON.parse(line) as { publicUrl: string; internalUrl: string };
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
        resolve({
          publicUrl,
          internalUrl,
          output: () => output,
          async stop() {
            child.kill('SIGTERM');
            return exited;
          },
        });
        return;
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
  });
}
