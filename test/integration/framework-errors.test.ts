/**
 * Everything the framework or Node's HTTP parser refuses, on both listeners, is answered by the
 * one error handler (src/http/error-handler.ts): a static body from the code table (or, on a
 * consent-page route, its error page), `Cache-Control: no-store`, `nosniff`, a CSP, and never a
 * word of the input. Requests go over raw TLS sockets: a client library would refuse to send most
 * of them.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createListener } from '../../src/http/server.js';
import type { ClientCert } from '../helpers/https-client.js';
import { startVault, testConfigDefaults, type TestVault } from '../helpers/vault.js';

const CANARY = 'CANARY-5e0c-input';
let vault: TestVault;

beforeAll(async () => {
  vault = await startVault({
    overrides: {
      // Short, so the timeout cases are quick (headers timeout = request timeout here).
      limits: { requestTimeoutMs: 1000 },
      // The consent pages give the public listener its POST routes; the IdP is never contacted here.
      identity: { login: { issuer: 'https://idp.invalid', clientId: 'token-vault' } },
    },
  });
});
afterAll(() => vault?.close());

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** Everything received, to show that no input is echoed anywhere. */
  text: string;
}

/** Send `request` on a fresh TLS connection and read until the server closes it. */
function send(url: string, request: string, client?: ClientCert): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: hostname, port: Number(port), ca: vault.pki.ca, servername: 'localhost', ...(client ?? {}) }, () => socket.write(request));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head = '', ...rest] = text.split('\r\n\r\n');
      const [statusLine = '', ...lines] = head.split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of lines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      const status = Number(statusLine.split(' ')[1]);
      if (!status) reject(new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`));
      else resolve({ status, headers, body: rest.join('\r\n\r\n'), text });
    });
    setTimeout(() => socket.destroy(), 10_000).unref();
  });
}

const INVALID_REQUEST = 'The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.';
const body = (error: string, error_description: string) => ({ error, error_description });
const MALFORMED = body('invalid_request', INVALID_REQUEST);
const NOT_FOUND = body('not_found', 'The requested resource does not exist.');
const UNSUPPORTED = body('invalid_request', 'The request content type is not supported.');
const TOO_LARGE = body('invalid_request', 'The request body is too large.');

const request = (method: string, path: string, headers: string[] = [], payload = '') =>
  [`${method} ${path} HTTP/1.1`, 'Host: localhost', ...headers, 'Connection: close', '', payload].join('\r\n');
const post = (path: string, type: string, payload: string, length = Buffer.byteLength(payload)) =>
  request('POST', path, [`Content-Type: ${type}`, `Content-Length: ${length}`], payload);

/** The answer: a JSON body of the code table, or (consent-page routes) an HTML error page. */
type Expected = Record<string, string> | 'page';

interface Case {
  kind: string;
  request: string;
  status: number;
  expected: Expected;
}

/** Cases both listeners share: none of them reaches a route. */
const shared: Case[] = [
  { kind: 'a bad URL encoding (FST_ERR_BAD_URL)', request: request('GET', `/${CANARY}%zz`), status: 400, expected: MALFORMED },
  { kind: 'a bad URL encoding in a route’s path', request: request('GET', `/healthz/${CANARY}%E0%A4%A`), status: 400, expected: MALFORMED },
  { kind: 'an unknown route (404)', request: request('GET', `/${CANARY}`), status: 404, expected: NOT_FOUND },
  // Fastify answers a method a path does not have with 404, not 405 (no route is matched at all).
  { kind: 'a method the path does not have (405 elsewhere)', request: request('DELETE', `/healthz?${CANARY}`), status: 404, expected: NOT_FOUND },
  { kind: 'a method token the parser does not know', request: request('BREW', `/${CANARY}`), status: 400, expected: MALFORMED },
  {
    kind: 'headers too large (431)',
    request: request('GET', '/healthz', [`X-${CANARY}: ${'a'.repeat(20_000)}`]),
    status: 431,
    expected: body('invalid_request', 'The request headers are too large.'),
  },
  { kind: 'a malformed header line', request: request('GET', '/healthz', [`Bad ${CANARY}: <x>`]), status: 400, expected: MALFORMED },
  { kind: 'a malformed request line', request: `GET /${CANARY} HTTP/9\r\nHost: localhost\r\n\r\n`, status: 400, expected: MALFORMED },
  {
    kind: 'a body that is both chunked and sized (request smuggling)',
    request: request('POST', '/healthz', ['Content-Length: 4', 'Transfer-Encoding: chunked'], `0\r\n\r\n${CANARY}`),
    status: 400,
    expected: MALFORMED,
  },
  {
    kind: 'headers not received in time (408)',
    request: `GET /${CANARY} HTTP/1.1\r\nHost: localhost\r\n`,
    status: 408,
    expected: body('invalid_request', 'The request was not received in time.'),
  },
];

const listeners: { name: string; url: () => string; client?: () => ClientCert; cases: Case[] }[] = [
  {
    name: 'public',
    url: () => vault.publicUrl,
    cases: [
      ...shared,
      {
        kind: 'an over-long route parameter (FST_ERR_MAX_PARAM_LENGTH)',
        request: request('GET', `/connections/${CANARY}${'a'.repeat(300)}`),
        status: 414,
        expected: body('invalid_request', 'The request URI is too long.'),
      },
      // Consent-page routes answer with their page, whose status is the page's own (a bad form: 400).
      { kind: 'an unsupported content type (415)', request: post('/logout', 'text/plain', CANARY), status: 400, expected: 'page' },
      { kind: 'a body that does not parse', request: post('/logout', 'application/json', `{"${CANARY}`), status: 400, expected: 'page' },
      { kind: 'a body over the limit (413)', request: post('/logout', 'application/json', '{}', 1_000_000), status: 400, expected: 'page' },
      {
        kind: 'a body not received in time (408)',
        request: post('/logout', 'application/json', `{"${CANARY}`, 100),
        status: 408,
        expected: body('invalid_request', 'The request was not received in time.'),
      },
    ],
  },
  {
    name: 'internal',
    url: () => vault.internalUrl,
    client: () => vault.pki.gateway,
    cases: [
      ...shared,
      {
        kind: 'an over-long route parameter (FST_ERR_MAX_PARAM_LENGTH)',
        request: request('GET', `/forward/${CANARY}${'a'.repeat(300)}/x`),
        status: 414,
        expected: body('invalid_request', 'The request URI is too long.'),
      },
      { kind: 'an unsupported content type (415)', request: post('/exchange', 'text/plain', CANARY), status: 415, expected: UNSUPPORTED },
      { kind: 'a body that does not parse', request: post('/exchange', 'application/json', `{"${CANARY}`), status: 400, expected: MALFORMED },
      { kind: 'a body over the limit (413)', request: post('/exchange', 'application/json', '{}', 1_000_000), status: 413, expected: TOO_LARGE },
      {
        kind: 'a body not received in time (408)',
        request: post('/exchange', 'application/json', `{"${CANARY}`, 100),
        status: 408,
        expected: body('invalid_request', 'The request was not received in time.'),
      },
    ],
  },
];

describe.each(listeners)('$name listener', ({ url, client, cases }) => {
  it.each(cases)('answers $kind through the error handler', async ({ request: raw, status, expected }) => {
    const res = await send(url(), raw, client?.());
    expect(res.status).toBe(status);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toMatch(/default-src 'none'.*frame-ancestors 'none'/);
    if (expected === 'page') {
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.body).toContain('role="alert"');
    } else {
      expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
      // Answers of the error handler carry the request id (body and header); the parser's own refusals have no request.
      const id = res.headers['x-request-id'];
      expect(JSON.parse(res.body)).toStrictEqual(typeof id === 'string' ? { ...expected, request_id: id } : expected);
    }
    expect(res.text).not.toContain(CANARY);
    expect(res.text).not.toContain('FST_');
  });
});

describe.each(['public', 'internal'] as const)('%s listener while it closes', (listener) => {
  it('finishes the request in flight with Connection: close and processes nothing more on that connection', async () => {
    const app = createListener({
      config: loadConfig({}, testConfigDefaults(vault.pki.dir)),
      listener,
      tls: { cert: await readFile(join(vault.pki.dir, 'server.crt'), 'utf8'), key: await readFile(join(vault.pki.dir, 'server.key'), 'utf8') },
    });
    let entered!: () => void;
    const inSlowRoute = new Promise<void>((resolve) => (entered = resolve));
    app.get('/slow', async () => {
      entered();
      await new Promise((resolve) => setTimeout(resolve, 300));
      return { ok: true };
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const chunks: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port, ca: vault.pki.ca, servername: 'localhost' }, () =>
      socket.write('GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n'),
    );
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    await inSlowRoute;
    const closing = app.close();
    socket.write(`GET /${CANARY} HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    await Promise.all([closing, closed]);
    const text = Buffer.concat(chunks).toString('utf8');
    // The request in flight finishes with `Connection: close`, and the socket closes after it: a request
    // sent on that connection after close() began is never processed (the client retries elsewhere).
    expect(text).toMatch(/^HTTP\/1.1 200 /);
    expect(text.split('\r\n\r\n')[0]!.toLowerCase()).toContain('connection: close');
    expect(text.indexOf('HTTP/1.1', 1)).toBe(-1);
    expect(text).not.toContain(CANARY);
  });
});
