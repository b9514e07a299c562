/**
 * The metrics listener: plain HTTP, `GET /metrics` and nothing else (loopback by default,
 * `listeners.metrics`). Separate from the two HTTPS listeners so a scraper needs no client
 * certificate and the public and internal routes never serve metrics.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface MetricsSource {
  text(): Promise<string>;
  readonly contentType: string;
}

export interface MetricsListener {
  /** Binds; resolves with the base URL. */
  listen(host: string, port: number): Promise<string>;
  close(): Promise<void>;
}

export function createMetricsListener(source: MetricsSource): MetricsListener {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?', 1)[0];
    if (path !== '/metrics') return end(res, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return end(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
    source.text().then(
      (text) => end(res, 200, req.method === 'HEAD' ? '' : text, { 'content-type': source.contentType }),
      () => end(res, 500, 'metrics unavailable\n'),
    );
  });
  server.keepAliveTimeout = 5_000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  return {
    listen: (host, port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          const { address, family, port: bound } = server.address() as AddressInfo;
          resolve(`http://${family === 'IPv6' ? `[${address}]` : address}:${bound}`);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

function end(res: import('node:http').ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(body);
}
