import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { createListener } from '../../src/http/server.js';
import { loadConfig } from '../../src/config/load.js';
import { AccessDenied, TemporarilyUnavailable } from '../../src/errors.js';
import { StoreUnavailableError } from '../../src/store/errors.js';
import { LogCapture } from '../helpers/log-capture.js';
import { createTestPki, testConfigDefaults, type TestPki } from '../helpers/vault.js';
import { withRequestId } from '../helpers/request-id.js';

const CANARY = 'CANARY-7f3a-secret-value';
let app: FastifyInstance;
let logs: LogCapture;
let pki: TestPki;

beforeAll(async () => {
  pki = await createTestPki();
  const config = loadConfig({}, testConfigDefaults(pki.dir));
  logs = new LogCapture();
  const { readFile } = await import('node:fs/promises');
  app = createListener({
    config,
    listener: 'public',
    logStream: logs,
    tls: { cert: await readFile(`${pki.dir}/server.crt`, 'utf8'), key: await readFile(`${pki.dir}/server.key`, 'utf8') },
  });
  // Routes exercising the shared listener setup every real route sits on.
  const routes = app.withTypeProvider<ZodTypeProvider>();
  routes.post('/echo', { schema: { body: z.object({ name: z.string().max(10) }) } }, async (req) => ({ ok: req.body.name.length }));
  routes.get('/boom', async () => {
    throw new Error(`library failure quoting input ${CANARY}`);
  });
  routes.get('/denied', async () => {
    throw new AccessDenied(`grant owned by someone else ${CANARY}`);
  });
  routes.get('/store-down', async () => {
    throw new StoreUnavailableError('redis unreachable');
  });
  routes.get('/retry', async () => {
    throw new TemporarilyUnavailable('audit down', 2);
  });
  await app.ready();
});
afterAll(async () => {
  await app.close();
});

describe('the single error handler', () => {
  it('answers malformed JSON with invalid_request', async () => {
    const res = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': 'application/json' }, payload: '{"name": ' });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toStrictEqual(
      withRequestId(res, {
        error: 'invalid_request',
        error_description: 'The request is missing a required parameter, includes an invalid parameter value, or is otherwise malformed.',
      }),
    );
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('answers a body failing its schema with invalid_request and does not echo it', async () => {
    const res = await app.inject({ method: 'POST', url: '/echo', payload: { name: CANARY } });
    expect(res.statusCode).toBe(400);
    expect(res.json().error).toBe('invalid_request');
    expect(res.body).not.toContain(CANARY);
  });

  it('answers a body over the limit with 413', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ name: 'x'.repeat(70_000) }),
    });
    expect(res.statusCode).toBe(413);
    expect(res.json()).toStrictEqual(withRequestId(res, { error: 'invalid_request', error_description: 'The request body is too large.' }));
  });

  it('answers an unsupported content type with 415', async () => {
    for (const type of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const res = await app.inject({ method: 'POST', url: '/echo', headers: { 'content-type': type }, payload: 'name=x' });
      expect(res.statusCode).toBe(415);
      expect(res.json()).toStrictEqual(withRequestId(res, { error: 'invalid_request', error_description: 'The request content type is not supported.' }));
    }
  });

  it('turns an unknown error into an opaque server_error, keeping its message out of the body and the logs', async () => {
    const res = await app.inject({ method: 'GET', url: '/boom' });
    expect(res.statusCode).toBe(500);
    expect(res.json()).toStrictEqual(withRequestId(res, { error: 'server_error', error_description: 'The server encountered an unexpected condition.' }));
    expect(logs.text()).not.toContain(CANARY);
    expect(logs.text()).toContain('"type":"ServerError"');
  });

  it('sends the static description of an OAuth error, never its internal detail', async () => {
    const res = await app.inject({ method: 'GET', url: '/denied' });
    expect(res.statusCode).toBe(403);
    expect(res.json()).toStrictEqual(withRequestId(res, { error: 'access_denied', error_description: 'The request was denied.' }));
  });

  it('fails closed with 503 and Retry-After when the store is unavailable', async () => {
    const res = await app.inject({ method: 'GET', url: '/store-down' });
    expect(res.statusCode).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.json()).toStrictEqual(
      withRequestId(res, { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Retry later.' }),
    );
    expect((await app.inject({ method: 'GET', url: '/retry' })).headers['retry-after']).toBe('2');
  });
});

describe('log redaction', () => {
  it('keeps tokens, cookies, authorization headers and query strings out of every log line', async () => {
    const before = logs.lines.length;
    await app.inject({
      method: 'POST',
      url: `/echo?code=${CANARY}-q1&access_token=${CANARY}-q2`,
      headers: {
        authorization: `Bearer ${CANARY}-auth`,
        cookie: `__Host-session=${CANARY}-cookie`,
        'proxy-authorization': `Basic ${CANARY}-proxy`,
      },
      payload: { name: 'ok', refresh_token: `${CANARY}-body` },
    });
    await app.inject({ method: 'GET', url: `/missing/${'x'}?subject_token=${CANARY}-q3`, headers: { authorization: `Bearer ${CANARY}-auth2` } });
    const written = logs.lines.slice(before);
    expect(written.length).toBeGreaterThanOrEqual(2);
    expect(written.join('\n')).toContain('/echo');
    expect(written.join('\n')).not.toContain(CANARY);
  });
});
