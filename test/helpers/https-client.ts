/**
 * A minimal HTTPS client for tests: one request, optional client certificate,
 * full response text. Uses node:https so the TLS handshake is real.
 */
import { request as httpsRequest, Agent } from 'node:https';

export interface ClientCert {
  cert: string;
  key: string;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  ca: string;
  client?: ClientCert;
  agent?: Agent;
}

export interface Response {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = unknown>(): T;
}

export function call(url: string, options: RequestOptions): Promise<Response> {
  const { method = 'GET', headers = {}, body, ca, client, agent } = options;
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      {
        method,
        headers: body === undefined ? headers : { 'content-length': String(Buffer.byteLength(body)), ...headers },
        ca,
        ...(client ? { cert: client.cert, key: client.key } : {}),
        ...(agent ? { agent } : { agent: false }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: <T>() => JSON.parse(text) as T });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}
