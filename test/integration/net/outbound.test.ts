import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OutboundError, isSpecialAddress, outboundFetch } from '../../../src/net/outbound.js';

let server: Server;
let base: string;
let hits = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    hits++;
    if (req.url === '/redirect') return void res.writeHead(302, { location: 'http://127.0.0.1:1/elsewhere' }).end();
    if (req.url === '/big') return void res.end('x'.repeat(300 * 1024));
    if (req.url === '/big-chunked') {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      for (let i = 0; i < 300; i++) res.write('y'.repeat(1024));
      return void res.end();
    }
    if (req.url === '/hang') return; // never answers
    res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

async function reason(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof OutboundError) return err.reason;
    throw err;
  }
  return 'no error';
}

describe('outbound calls to providers', () => {
  const local = outboundFetch({ allowPrivateNetwork: true, timeoutMs: 500 });
  const strict = outboundFetch({ allowPrivateNetwork: false, timeoutMs: 500 });

  it('reaches a loopback server only when the provider is allowed the private network', async () => {
    const res = await local(`${base}/ok`);
    expect(res).toBeInstanceOf(Response);
    expect(await res.json()).toStrictEqual({ ok: true });
  });

  it('refuses plain http and special addresses for a public provider, before connecting', async () => {
    const before = hits;
    expect(await reason(strict(`${base}/ok`))).toBe('insecure_scheme');
    for (const target of [
      'https://127.0.0.1/',
      'https://10.1.2.3/',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/',
      'https://[::ffff:127.0.0.1]/',
      'https://192.168.0.10/',
    ]) {
      expect(await reason(strict(target))).toBe('forbidden_address');
    }
    expect(hits).toBe(before);
  });

  it('refuses a hostname that resolves to a loopback address (checked after DNS)', async () => {
    expect(await reason(strict('https://localhost:4433/'))).toBe('forbidden_address');
  });

  it('never follows redirects', async () => {
    expect(await reason(local(`${base}/redirect`))).toBe('redirect');
  });

  it('refuses responses over the size cap, declared or streamed', async () => {
    expect(await reason(local(`${base}/big`))).toBe('too_large');
    expect(await reason(local(`${base}/big-chunked`))).toBe('too_large');
  });

  it('says unreachable only when nothing can have been sent, network when the request may have arrived', async () => {
    // Nothing listens on the port: the connection is refused.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    expect(await reason(local(`http://127.0.0.1:${closedPort}/token`))).toBe('unreachable');
    expect(await reason(local('http://no-such-host.invalid/token'))).toBe('unreachable');

    // The server reads the request, then drops the connection without answering.
    const dropper = createServer((req) => req.socket.destroy());
    await new Promise<void>((r) => dropper.listen(0, '127.0.0.1', r));
    try {
      expect(await reason(local(`http://127.0.0.1:${(dropper.address() as AddressInfo).port}/token`))).toBe('network');
    } finally {
      dropper.close();
    }
  });

  it('gives up at the deadline', async () => {
    expect(await reason(local(`${base}/hang`))).toBe('timeout');
  });

  it('classifies addresses', () => {
    for (const ip of [
      '127.0.0.1',
      '10.0.0.1',
      '172.16.5.4',
      '192.168.1.1',
      '169.254.1.1',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fe80::1',
      'fd00::1',
      '::ffff:10.0.0.1',
      '224.0.0.1',
    ])
      expect(isSpecialAddress(ip), ip).toBe(true);
    for (const ip of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) expect(isSpecialAddress(ip), ip).toBe(false);
  });
});
