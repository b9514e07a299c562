/**
 * A cookie-carrying HTTPS client for the consent pages: what a browser does
 * without running JavaScript. Never follows redirects (tests assert them).
 */
import { request as httpsRequest } from 'node:https';

export interface PageResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  location?: string;
}

export class BrowserClient {
  readonly cookies = new Map<string, string>();
  /**
   * Every response seen (status, headers and body), for canary scans. `set-cookie` is left
   * out: it is where the session id belongs; anywhere else it would be a leak.
   */
  readonly transcript: string[] = [];

  constructor(
    readonly baseUrl: string,
    private readonly ca: string,
  ) {}

  get(path: string, headers: Record<string, string> = {}): Promise<PageResponse> {
    return this.send('GET', path, undefined, headers);
  }

  /** POST a form (application/x-www-form-urlencoded); array values repeat the field. */
  postForm(path: string, fields: Record<string, string | string[] | undefined>, headers: Record<string, string> = {}): Promise<PageResponse> {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) form.append(name, v);
    }
    return this.send('POST', path, form.toString(), { 'content-type': 'application/x-www-form-urlencoded', ...headers });
  }

  /** The CSRF token of the last form on a page. */
  static csrf(page: PageResponse): string {
    const match = [...page.text.matchAll(/name="_csrf" value="([^"]+)"/g)].pop();
    if (!match?.[1]) throw new Error('no CSRF token on the page');
    return match[1];
  }

  private send(method: string, path: string, body: string | undefined, headers: Record<string, string>): Promise<PageResponse> {
    const url = new URL(path, this.baseUrl);
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    return new Promise((resolve, reject) => {
      const req = httpsRequest(
        url,
        {
          method,
          ca: this.ca,
          agent: false,
          headers: { ...(cookie ? { cookie } : {}), ...(body !== undefined ? { 'content-length': String(Buffer.byteLength(body)) } : {}), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            for (const line of res.headers['set-cookie'] ?? []) this.storeCookie(line);
            const location = res.headers.location;
            const { 'set-cookie': _cookies, ...shown } = res.headers;
            this.transcript.push(`${res.statusCode} ${JSON.stringify(shown)}\n${Buffer.concat(chunks).toString('utf8')}`);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              text: Buffer.concat(chunks).toString('utf8'),
              ...(location ? { location } : {}),
            });
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  private storeCookie(line: string): void {
    const [pair = '', ...attributes] = line.split(';');
    const eq = pair.indexOf('=');
    const name = pair.slice(0, eq).trim();
    const value = pair.slice(eq + 1).trim();
    const expired = value === '' || attributes.some((a) => /^\s*max-age=0$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
    if (expired) this.cookies.delete(name);
    else this.cookies.set(name, value);
  }
}
