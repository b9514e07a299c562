import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer, type Server, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCert } from '../../../src/dev/pki.js';
import { DEV_PKI_FILES, DEV_SECRET_FILES, ensureDevKeys } from '../../../src/dev/keys.js';
import { loadKeyMaterial } from '../../../src/crypto/key-files.js';

let dir: string;
const read = (name: string): Promise<string> => readFile(join(dir, name), 'utf8');

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tv-dev-keys-'));
  await ensureDevKeys(join(dir, 'keys', 'dev'));
  dir = join(dir, 'keys', 'dev');
});

afterAll(async () => {
  await rm(join(dir, '..', '..'), { recursive: true, force: true });
});

describe('dev key generation', () => {
  it('creates every file by its exact name, keys 0600 and certificates 0644', async () => {
    const expected = [...DEV_PKI_FILES, ...DEV_SECRET_FILES].sort();
    expect(expected).toStrictEqual([
      'admin.crt',
      'admin.key',
      'audit-hmac.key',
      'ca.crt',
      'ca.key',
      'gateway.crt',
      'gateway.key',
      'kek-1.key',
      'other.crt',
      'other.key',
      'server.crt',
      'server.key',
      'signing-1.key',
    ]);
    expect((await readdir(dir)).sort()).toStrictEqual(expected);
    for (const name of expected) {
      expect((await stat(join(dir, name))).mode & 0o777, name).toBe(name.endsWith('.key') ? 0o600 : 0o644);
    }
  });

  it('produces key material the vault accepts', async () => {
    const material = await loadKeyMaterial(dir);
    expect(material.keyring.activeId).toBe('1');
    expect(material.signingKeys.active.alg).toBe('EdDSA');
    expect(material.auditHmacKey.byteLength).toBe(32);
  });

  it('gives each client a SPIFFE URI SAN and the server localhost names', async () => {
    for (const name of ['gateway', 'admin', 'other']) {
      expect(new X509Certificate(await read(`${name}.crt`)).subjectAltName).toBe(`URI:spiffe://dev.local/${name}`);
    }
    expect(new X509Certificate(await read('server.crt')).subjectAltName).toBe('DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
  });

  it('signs every certificate with the dev CA', async () => {
    const ca = new X509Certificate(await read('ca.crt'));
    expect(ca.ca).toBe(true);
    for (const name of ['server', 'gateway', 'admin', 'other']) {
      const cert = new X509Certificate(await read(`${name}.crt`));
      expect(cert.ca).toBe(false);
      expect(cert.verify(ca.publicKey), name).toBe(true);
      expect(cert.checkIssued(ca)).toBe(true);
    }
  });

  it('skips complete material and regenerates everything with force', async () => {
    const kek = await read('kek-1.key');
    expect(await ensureDevKeys(dir)).toStrictEqual({ created: false, written: [] });
    expect(await read('kek-1.key')).toBe(kek);
    await rm(join(dir, 'gateway.key'));
    const partial = await ensureDevKeys(dir);
    expect(partial.written).toHaveLength(DEV_PKI_FILES.length);
    expect(await read('kek-1.key')).toBe(kek);
    const forced = await ensureDevKeys(dir, { force: true });
    expect(forced.written).toHaveLength(DEV_PKI_FILES.length + DEV_SECRET_FILES.length);
    expect(await read('kek-1.key')).not.toBe(kek);
  });
});

describe('dev certificates in a real mTLS handshake', () => {
  let server: Server;
  let port: number;
  const accepted: string[] = [];

  beforeAll(async () => {
    server = createServer({
      cert: await read('server.crt'),
      key: await read('server.key'),
      ca: await read('ca.crt'),
      requestCert: true,
      rejectUnauthorized: true,
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      const peer = socket.getPeerX509Certificate();
      accepted.push(peer?.subjectAltName ?? '');
      socket.end(peer?.subjectAltName ?? 'no certificate');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function handshake(credentials: { cert?: string; key?: string }): Promise<string> {
    const ca = await read('ca.crt');
    return new Promise((resolve, reject) => {
      const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost', ...credentials });
      let body = '';
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => (body += chunk));
      socket.on('end', () => resolve(body));
      socket.on('error', reject);
    });
  }

  it('accepts the gateway certificate and sees its SPIFFE id', async () => {
    const gateway = { cert: await read('gateway.crt'), key: await read('gateway.key') };
    await expect(handshake(gateway)).resolves.toBe('URI:spiffe://dev.local/gateway');
  });

  it('refuses a client without a certificate', async () => {
    // TLS 1.3: the server answers a missing certificate with a certificate_required alert (RFC 8446 §4.4.2.4, §6.2).
    await expect(handshake({})).rejects.toMatchObject({ code: 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED' });
  });

  it('refuses a client certificate from another CA', async () => {
    const foreignCa = await createCa({ commonName: 'Foreign CA' });
    const impostor = await issueCert(foreignCa, { commonName: 'gateway', uris: ['spiffe://dev.local/gateway'], clientAuth: true });
    // In TLS 1.3 the client finishes before the server checks its certificate; Node's server then
    // drops the connection without an alert, so the client only sees it closed.
    const before = accepted.length;
    const outcome = await handshake({ cert: impostor.certPem, key: impostor.keyPem }).catch(() => 'refused');
    expect(['', 'refused']).toContain(outcome);
    expect(accepted.length).toBe(before);
  });
});
