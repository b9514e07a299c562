/**
 * The demo gateway's HTTP side: requests to the vault's internal listener
 * over mTLS with the dev gateway certificate, each printed with its answer
 * and with the curl line that does the same.
 */
import { readFile } from 'node:fs/promises';
import { Agent, request } from 'node:https';
import { join } from 'node:path';

/** Replaces long JWTs in printed text: the export lines carry them whole. */
const JWT = /eyJ[\w-]+\.[\w-]+\.[\w-]+/g;
const abbreviate = (text: string) => text.replace(JWT, (jwt) => (jwt.length > 40 ? `${jwt.slice(0, 24)}…(${jwt.length} chars)` : jwt));

/** Single-quotes a word for POSIX shells. */
export const shellQuote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`);

export interface Answer {
  status: number;
  statusText: string;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** The body as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface SendOptions {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** How the request body is printed (default: as sent). */
  printedBody?: string;
  /** The same request as a curl command line, printed before it is sent. */
  curl: string[];
}

const SKIPPED_HEADERS = new Set(['date', 'connection', 'keep-alive']);

export class DemoGateway {
  readonly #agent: Agent;

  private constructor(
    readonly internalUrl: string,
    readonly keysDir: string,
    tls: { cert: string; key: string; ca: string },
    private readonly out: (line: string) => void,
  ) {
    this.#agent = new Agent({ ...tls, keepAlive: true, maxSockets: 1 });
  }

  /** The dev gateway certificate from `keysDir` (relative paths are printed as given). */
  static async open(internalUrl: string, keysDir: string, out: (line: string) => void): Promise<DemoGateway> {
    const read = (name: string) => readFile(join(keysDir, name), 'utf8');
    const [cert, key, ca] = await Promise.all([read('gateway.crt'), read('gateway.key'), read('ca.crt')]);
    return new DemoGateway(internalUrl, keysDir, { cert, key, ca }, out);
  }

  /** `curl` with the dev gateway certificate, ready for more arguments. */
  curlPrefix(): string {
    const k = this.keysDir;
    return `curl --cert ${k}/gateway.crt --key ${k}/gateway.key --cacert ${k}/ca.crt`;
  }

  async send(options: SendOptions): Promise<Answer> {
    const { method, path, headers = {}, body } = options;
    const url = new URL(path, this.internalUrl);
    this.out('  equivalent curl:');
    this.out(`    ${options.curl.join(' \\\n      ')}`);
    this.out('');
    this.out(`  > ${method} ${url.pathname}${url.search} HTTP/1.1`);
    this.out(`  > host: ${url.host}`);
    for (const [name, value] of Object.entries(headers)) this.out(`  > ${name}: ${abbreviate(value)}`);
    if (body !== undefined) this.out(`  >\n${indent(abbreviate(options.printedBody ?? body), '  > ')}`);
    const started = performance.now();
    const answer = await this.#request(url, method, body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) }, body);
    const ms = Math.round(performance.now() - started);
    this.out('');
    this.out(`  < HTTP/1.1 ${answer.status} ${answer.statusText}   (${ms} ms)`);
    for (const [name, value] of Object.entries(answer.headers)) {
      if (!SKIPPED_HEADERS.has(name)) this.out(`  < ${name}: ${abbreviate(String(value))}`);
    }
    const printed = answer.json === undefined ? answer.text : JSON.stringify(answer.json, null, 2);
    if (printed.length > 0) this.out(`  <\n${indent(abbreviate(printed), '  < ')}`);
    this.out('');
    return answer;
  }

  /** A request printed as one line with its answer's status and `error` (the polls of an approval). */
  async sendBrief(method: string, path: string, headers: Record<string, string>, body: string): Promise<Answer> {
    const url = new URL(path, this.internalUrl);
    const answer = await this.#request(url, method, { ...headers, 'content-length': String(Buffer.byteLength(body)) }, body);
    const error = (answer.json as { error?: unknown } | undefined)?.error;
    this.out(`  > ${method} ${url.pathname}   < ${answer.status}${typeof error === 'string' ? ` ${error}` : ''}`);
    return answer;
  }

  close(): void {
    this.#agent.destroy();
  }

  #request(url: URL, method: string, headers: Record<string, string>, body: string | undefined): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method, headers, agent: this.#agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = /json/.test(String(res.headers['content-type'])) ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers: res.headers, text, json });
        });
      });
      req.on('error', reject);
      if (body !== undefined) req.write(body);
      req.end();
    });
  }
}

function indent(text: string, prefix: string): string {
  return text
    .split('\n')
    .map((line) => `${prefix}${line}`)
    .join('\n');
}
