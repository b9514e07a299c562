import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/https-client.js';
import { freePort } from '../helpers/free-port.js';

const devEntry = fileURLToPath(new URL('../../src/dev.ts', import.meta.url));
let cwd: string;
let child: ChildProcess;
let output = '';
let ports: { public: number; internal: number };

beforeAll(async () => {
  // A directory with no keys: what a fresh clone looks like to `npm run dev`.
  cwd = await mkdtemp(join(tmpdir(), 'tv-dev-'));
  ports = { public: await freePort(), internal: await freePort() };
  child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), devEntry], {
    cwd,
    env: { PATH: process.env.PATH ?? '', TOKEN_VAULT_PUBLIC_PORT: String(ports.public), TOKEN_VAULT_INTERNAL_PORT: String(ports.internal) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev mode did not start:\n${output}`)), 30_000);
    const check = setInterval(() => {
      if (output.includes('curl --cert')) {
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }
    }, 50);
    child.on('exit', () => reject(new Error(`dev mode exited:\n${output}`)));
  });
});
afterAll(async () => {
  child.kill('SIGTERM');
  await rm(cwd, { recursive: true, force: true });
});

describe('npm run dev on a fresh checkout', () => {
  it('generates the dev keys with private files at 0600 and prints a ready-to-paste curl line', async () => {
    expect(output).toContain('DEVELOPMENT MODE');
    expect(output).toContain(
      `curl --cert keys/dev/gateway.crt --key keys/dev/gateway.key --cacert keys/dev/ca.crt https://127.0.0.1:${ports.internal}/healthz`,
    );
    for (const name of ['ca.crt', 'server.crt', 'gateway.crt', 'admin.crt', 'other.crt']) await stat(join(cwd, 'keys/dev', name));
    for (const name of ['server.key', 'gateway.key', 'admin.key', 'other.key', 'kek-1.key', 'signing-1.key', 'audit-hmac.key']) {
      expect((await stat(join(cwd, 'keys/dev', name))).mode & 0o777, name).toBe(0o600);
    }
  });

  it('serves /healthz on both listeners; the internal one only to the dev gateway certificate', async () => {
    const dir = join(cwd, 'keys/dev');
    const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    const pair = async (name: string) => ({ cert: await readFile(join(dir, `${name}.crt`), 'utf8'), key: await readFile(join(dir, `${name}.key`), 'utf8') });
    const pub = await call(`https://127.0.0.1:${ports.public}/healthz`, { ca });
    expect(pub.json()).toStrictEqual({ status: 'ok' });
    const internal = await call(`https://127.0.0.1:${ports.internal}/healthz`, { ca, client: await pair('gateway') });
    expect(internal.json()).toStrictEqual({ status: 'ok' });
    await expect(call(`https://127.0.0.1:${ports.internal}/healthz`, { ca })).rejects.toThrow();
    const other = await call(`https://127.0.0.1:${ports.internal}/healthz`, { ca, client: await pair('other') });
    expect(other.status).toBe(401);
    expect(other.json()).toStrictEqual({ error: 'invalid_client', error_description: 'Client authentication failed.' });
  });
});
