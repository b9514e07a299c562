/**
 * A real HTTPS webhook receiver on loopback (the test PKI's server certificate), with one
 * behaviour per path: answer 204, fail with 500 a number of times first, answer late, or always
 * fail. Records every request as received (headers and raw body) for signature checks.
 */
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface ReceivedWebhook {
  path: string;
  headers: Record<string, string>;
  body: string;
  at: number;
}

export type Behaviour = { kind: 'ok' } | { kind: 'fail-first'; failures: number } | { kind: 'slow'; delayMs: number } | { kind: 'fail' };

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  on(path: string, behaviour: Behaviour): void;
  close(): Promise<void>;
}

export async function startWebhookReceiver(pkiDir: string): Promise<WebhookReceiver> {
  const [cert, key] = await Promise.all([readFile(join(pkiDir, 'server.crt'), 'utf8'), readFile(join(pkiDir, 'server.key'), 'utf8')]);
  const behaviours = new Map<string, Behaviour>();
  const failed = new Map<string, number>();
  const received: ReceivedWebhook[] = [];
  const server: Server = createServer({ cert, key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      const headers = Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)]));
      received.push({ path, headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() });
      const behaviour = behaviours.get(path) ?? { kind: 'ok' };
      if (behaviour.kind === 'fail') return void res.writeHead(500).end('down for maintenance');
      if (behaviour.kind === 'fail-first' && (failed.get(path) ?? 0) < behaviour.failures) {
        failed.set(path, (failed.get(path) ?? 0) + 1);
        return void res.writeHead(500).end();
      }
      if (behaviour.kind === 'slow') return void setTimeout(() => res.writeHead(204).end(), behaviour.delayMs).unref();
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    on: (path, behaviour) => void behaviours.set(path, behaviour),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A fresh Standard Webhooks secret (`whsec_` + base64 of 32 random bytes) in a 0600 file; returns the file and the secret. */
export async function writeWebhookSecret(dir: string, name: string): Promise<{ file: string; secret: string }> {
  const secret = `whsec_${randomBytes(32).toString('base64')}`;
  const file = join(dir, `webhook-${name}.secret`);
  await writeFile(file, secret, { mode: 0o600 });
  return { file, secret };
}
