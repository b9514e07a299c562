/**
 * The admin CLI's HTTP client: one HTTPS request to the admin API with the
 * admin client certificate (or a console certificate plus a bearer JWT).
 */
import { request } from 'node:https';
import { readFileSync } from 'node:fs';

export interface Connection {
  url: string;
  cert: string;
  key: string;
  cacert: string;
  /** Admin JWT for a console certificate. */
  token?: string | undefined;
}

export interface ApiResponse {
  status: number;
  contentType: string;
  body: string;
}

/** An error answer of the admin API: its RFC 6749-style `error` code, or a transport failure. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly code: string,
    readonly description: string,
    readonly status?: number,
  ) {
    super(`${code}: ${description}`);
  }
}

function readPem(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw new ApiError('usage', `cannot read ${what} file ${path}`);
  }
}

export async function callAdmin(
  conn: Connection,
  method: string,
  path: string,
  options: { body?: unknown; out?: NodeJS.WritableStream } = {},
): Promise<ApiResponse> {
  const tls = { cert: readPem(conn.cert, 'certificate'), key: readPem(conn.key, 'key'), ca: readPem(conn.cacert, 'CA') };
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(body));
  }
  if (conn.token) headers.authorization = `Bearer ${conn.token}`;
  const url = new URL(path, conn.url);
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ...tls, agent: false, timeout: 30_000 }, (res) => {
      const status = res.statusCode ?? 0;
      const contentType = String(res.headers['content-type'] ?? '');
      // A successful export streams straight to the output instead of being buffered.
      if (options.out && status === 200) {
        res.pipe(options.out, { end: false });
        res.on('end', () => resolve({ status, contentType, body: '' }));
        res.on('error', () => reject(new ApiError('network', 'connection lost during the response')));
        return;
      }
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status, contentType, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', () => reject(new ApiError('network', 'connection lost during the response')));
    });
    req.on('timeout', () => req.destroy(new ApiError('timeout', 'no answer within 30 s')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      reject(err instanceof ApiError ? err : new ApiError('network', `${err.code ?? 'error'} connecting to ${url.origin}`));
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** The parsed JSON of a 200 answer, or the API's error as an ApiError. */
export async function callJson<T>(conn: Connection, method: string, path: string, body?: unknown): Promise<T> {
  const res = await callAdmin(conn, method, path, body === undefined ? {} : { body });
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body);
  } catch {
    throw new ApiError('bad_response', `HTTP ${res.status} without a JSON body`, res.status);
  }
  if (res.status !== 200) {
    const e = parsed as { error?: unknown; error_description?: unknown };
    throw new ApiError(
      typeof e.error === 'string' ? e.error : `http_${res.status}`,
      typeof e.error_description === 'string' ? e.error_description : '',
      res.status,
    );
  }
  return parsed as T;
}
