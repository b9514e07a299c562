/**
 * A private redis-server that speaks only TLS (`--port 0 --tls-port P`) and only to an ACL user:
 * `default` is off, the vault's user may touch its own key prefix. Its certificate comes from a
 * test CA made here with the dev PKI (src/dev/pki.ts): fake, loopback only, thrown away with the
 * server's directory. `rediss://127.0.0.1:P`, the user's password and the CA PEM are what a
 * vault's `store.redis` needs (`url`, `username`, `passwordFile`, `tlsCaFile`).
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { createCa, issueCert } from '../../src/dev/pki.js';
import { terminate } from './child-server.js';
import { onFreshPort } from './free-port.js';
import { privateServerArgs, spawnRedisProcess } from './redis-server.js';

export const REDIS_TLS_USER = 'token-vault';

export interface RedisTlsHandle {
  url: string;
  port: number;
  username: string;
  password: string;
  /** PEM of the fake CA that signed the server's certificate. */
  caPem: string;
  stop(): Promise<void>;
}

export async function startRedisTls(): Promise<RedisTlsHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'tv-redis-tls-'));
  const ca = await createCa({ commonName: 'Token Vault test Redis CA (fake)' });
  const server = await issueCert(ca, { commonName: '127.0.0.1', ipAddresses: ['127.0.0.1'], dnsNames: ['localhost'], serverAuth: true });
  const password = randomBytes(24).toString('base64url');
  const file = (name: string) => join(dir, name);
  await writeFile(file('ca.crt'), ca.certPem);
  await writeFile(file('server.crt'), server.certPem);
  await writeFile(file('server.key'), server.keyPem, { mode: 0o600 });
  // ACL rules in a config file, not on the command line (where `ps` would show the password).
  await writeFile(file('redis.conf'), `user default off\nuser ${REDIS_TLS_USER} on >${password} ~tv:* &* +@all\n`, { mode: 0o600 });
  const args = (port: number) => [
    file('redis.conf'),
    ...privateServerArgs(0, dir),
    '--appendfsync',
    'everysec',
    '--tls-port',
    String(port),
    '--tls-cert-file',
    file('server.crt'),
    '--tls-key-file',
    file('server.key'),
    '--tls-ca-cert-file',
    file('ca.crt'),
    '--tls-auth-clients',
    'no',
  ];
  const { port, started: child } = await onFreshPort((port) =>
    spawnRedisProcess('redis-server', args(port), port, dir, (p) => tlsPing(p, ca.certPem, password)),
  );
  return {
    url: `rediss://127.0.0.1:${port}`,
    port,
    username: REDIS_TLS_USER,
    password,
    caPem: ca.certPem,
    async stop() {
      await terminate(child, 'SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** AUTH then PING over TLS in raw RESP, so the harness does not depend on the client under test. */
async function tlsPing(port: number, caPem: string, password: string): Promise<boolean> {
  const reply = await rawTlsCommands(port, caPem, [`AUTH ${REDIS_TLS_USER} ${password}`, 'PING']).catch(() => '');
  return reply === '+OK\r\n+PONG\r\n';
}

/** Sends inline `commands` over one TLS connection and resolves with the raw replies (one line each). */
export function rawTlsCommands(port: number, caPem: string, commands: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', ca: caPem });
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy(new Error('no answer')));
    socket.once('error', reject);
    // A server that hangs up early answered what it answered (an idle timeout never fires on a closed socket).
    socket.once('close', () => resolve(reply));
    socket.once('secureConnect', () => socket.write(commands.map((c) => `${c}\r\n`).join('')));
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString();
      if (reply.split('\r\n').length > commands.length) {
        socket.destroy();
        resolve(reply);
      }
    });
  });
}
