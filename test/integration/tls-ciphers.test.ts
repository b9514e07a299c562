/**
 * Both listeners speak TLS 1.3, and TLS 1.2 only with ECDHE and an AEAD (config `tls.ciphers`,
 * src/config/schema.ts): a real `openssl s_client` offering one suite at a time is refused every
 * CBC, CCM/CCM8, ARIA and non-ECDHE suite and accepted with AES-GCM, ChaCha20-Poly1305 and TLS 1.3.
 * The test PKI's server key is ECDSA; an RSA-keyed listener checks the RSA suites.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createListener } from '../../src/http/server.js';
import { startVault, testConfigDefaults, type TestVault } from '../helpers/vault.js';

const run = promisify(execFile);

let vault: TestVault;
let rsaListener: FastifyInstance;
let rsaDir: string;

beforeAll(async () => {
  vault = await startVault();
  rsaDir = await mkdtemp(join(tmpdir(), 'tv-rsa-'));
  await run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    join(rsaDir, 'rsa.key'),
    '-out',
    join(rsaDir, 'rsa.crt'),
    '-subj',
    '/CN=localhost',
    '-days',
    '1',
  ]);
  rsaListener = createListener({
    config: loadConfig({}, testConfigDefaults(vault.pki.dir)),
    listener: 'public',
    tls: { cert: await readFile(join(rsaDir, 'rsa.crt'), 'utf8'), key: await readFile(join(rsaDir, 'rsa.key'), 'utf8') },
  });
  await rsaListener.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await rsaListener?.close();
  await vault?.close();
  if (rsaDir) await rm(rsaDir, { recursive: true, force: true });
});

interface Target {
  port: () => number;
  /** The internal listener requires a client certificate. */
  client: boolean;
}

const portOf = (url: string) => Number(new URL(url).port);
const listeners: Record<string, Target> = {
  public: { port: () => portOf(vault.publicUrl), client: false },
  internal: { port: () => portOf(vault.internalUrl), client: true },
};

/** The negotiated suite, or null when the handshake is refused. */
async function handshake(target: Target, protocol: '-tls1_2' | '-tls1_3', suite: string): Promise<string | null> {
  const args = ['s_client', '-connect', `127.0.0.1:${target.port()}`, '-servername', 'localhost', protocol];
  args.push(protocol === '-tls1_3' ? '-ciphersuites' : '-cipher', suite);
  if (target.client) args.push('-cert', join(vault.pki.dir, 'gateway.crt'), '-key', join(vault.pki.dir, 'gateway.key'));
  const child = run('openssl', args, { timeout: 10_000 });
  child.child.stdin?.end();
  try {
    const { stdout } = await child;
    return /Cipher is (\S+)/.exec(stdout)?.[1] ?? null;
  } catch {
    return null;
  }
}

// Suites Node's default list (or OpenSSL's) would negotiate with an ECDSA key and that must not be.
const REFUSED_ECDSA = [
  'ECDHE-ECDSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA',
  'ECDHE-ECDSA-AES128-SHA256',
  'ECDHE-ECDSA-AES256-SHA384',
  'ECDHE-ECDSA-AES128-CCM',
  'ECDHE-ECDSA-AES256-CCM',
  'ECDHE-ECDSA-AES128-CCM8',
  'ECDHE-ECDSA-AES256-CCM8',
  'ECDHE-ECDSA-ARIA128-GCM-SHA256',
  'ECDHE-ECDSA-ARIA256-GCM-SHA384',
  'ECDHE-ECDSA-CAMELLIA128-SHA256',
];
const ACCEPTED_ECDSA = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305'];
const TLS13 = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];

describe.each(Object.keys(listeners))('%s listener (ECDSA key)', (name) => {
  const target = listeners[name]!;

  it.each(REFUSED_ECDSA)('refuses TLS 1.2 with %s', async (suite) => {
    expect(await handshake(target, '-tls1_2', suite)).toBeNull();
  });

  it.each(ACCEPTED_ECDSA)('accepts TLS 1.2 with %s', async (suite) => {
    expect(await handshake(target, '-tls1_2', suite)).toBe(suite);
  });

  it.each(TLS13)('accepts TLS 1.3 with %s', async (suite) => {
    expect(await handshake(target, '-tls1_3', suite)).toBe(suite);
  });
});

describe('a listener with an RSA key', () => {
  const target: Target = { port: () => (rsaListener.server.address() as { port: number }).port, client: false };

  it.each([
    'ECDHE-RSA-AES128-SHA',
    'ECDHE-RSA-AES256-SHA',
    'ECDHE-RSA-AES128-SHA256',
    'ECDHE-RSA-AES256-SHA384',
    'ECDHE-RSA-ARIA128-GCM-SHA256',
    'DHE-RSA-AES128-GCM-SHA256',
    'DHE-RSA-AES256-SHA256',
    'AES128-GCM-SHA256',
    'AES256-SHA',
  ])('refuses TLS 1.2 with %s', async (suite) => {
    expect(await handshake(target, '-tls1_2', suite)).toBeNull();
  });

  it.each(['ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-RSA-CHACHA20-POLY1305'])('accepts TLS 1.2 with %s', async (suite) => {
    expect(await handshake(target, '-tls1_2', suite)).toBe(suite);
  });
});
