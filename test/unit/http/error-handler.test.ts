import { describe, expect, it } from 'vitest';
import { AuditEventError, AuditOverloadError } from '../../../src/audit/errors.js';
import { DecryptionError } from '../../../src/crypto/envelope.js';
import { AccessDenied, AuditUnavailable, TemporarilyUnavailable } from '../../../src/errors.js';
import { toOAuthError } from '../../../src/http/error-handler.js';
import { pageErrors, toPageError } from '../../../src/linking/pages/page-error.js';
import { StoreUnavailableError } from '../../../src/store/errors.js';

const CANARY = 'CANARY-91b2-input';

const answer = (err: unknown) => {
  const e = toOAuthError(err);
  return { code: e.code, status: e.status, body: e.toBody(), headers: e.headers };
};
const SERVER_ERROR = {
  code: 'TV_SERVER_ERROR',
  status: 500,
  body: { error: 'server_error', error_description: 'The server encountered an unexpected condition.' },
  headers: {},
};
const UNAVAILABLE = { error: 'temporarily_unavailable', error_description: 'The service is temporarily unavailable. Retry later.' };

describe('classifying what a request threw', () => {
  it('answers an error by its code, whatever its message', () => {
    const coded = Object.assign(new Error(`anything at all ${CANARY}`), { code: 'TV_STORE_UNAVAILABLE' });
    expect(answer(coded)).toStrictEqual({ code: 'TV_STORE_UNAVAILABLE', status: 503, body: UNAVAILABLE, headers: { 'retry-after': '1' } });
    expect(answer(new StoreUnavailableError('redis unreachable'))).toStrictEqual(answer(coded));
  });

  it('never classifies by message text or class name', () => {
    const lookalikes = [
      new Error('Command timed out'),
      new Error('TV_STORE_UNAVAILABLE'),
      Object.assign(new Error('x'), { name: 'StoreUnavailableError' }),
      Object.assign(new Error('x'), { name: 'AuditOverloadError' }),
      Object.assign(new Error('{"a":'), { name: 'SyntaxError' }),
      Object.assign(new Error('x'), { code: 'TV_NOT_A_CODE' }),
      Object.assign(new Error('x'), { code: 'tv_store_unavailable' }),
      Object.assign(new Error('x'), { code: 'constructor' }),
    ];
    for (const err of lookalikes) expect(answer(err)).toStrictEqual(SERVER_ERROR);
  });

  it('gives a subclass its own code: audit overload is an unavailable store, answered 503', () => {
    expect(toOAuthError(new AuditOverloadError('queue full')).code).toBe('TV_AUDIT_OVERLOAD');
    expect(answer(new AuditOverloadError('queue full')).body).toStrictEqual(UNAVAILABLE);
    expect(answer(new AuditEventError('audit field reason looks like a JWT'))).toStrictEqual({ ...SERVER_ERROR, code: 'TV_AUDIT_EVENT_INVALID' });
  });

  it('keeps the class and the code of a coded error in its detail, for logs and audit', () => {
    const refusal = toOAuthError(new DecryptionError());
    expect([refusal.name, refusal.detail]).toStrictEqual(['DecryptionError', 'DecryptionError (TV_DECRYPTION_FAILED): ciphertext failed authentication']);
  });

  it('classifies what the HTTP layer refuses before a route by its code, never echoing the input', () => {
    const framework = (code: string, statusCode?: number) => Object.assign(new Error(`'/${CANARY}%zz' is not a valid url component`), { code, statusCode });
    const cases: [Error, string, number][] = [
      [framework('FST_ERR_BAD_URL', 400), 'TV_INVALID_REQUEST', 400],
      [framework('FST_ERR_MAX_PARAM_LENGTH', 414), 'TV_URI_TOO_LONG', 414],
      [framework('ERR_HTTP_REQUEST_TIMEOUT'), 'TV_REQUEST_TIMEOUT', 408],
      [framework('HPE_HEADER_OVERFLOW'), 'TV_HEADERS_TOO_LARGE', 431],
      [framework('HPE_INVALID_METHOD'), 'TV_INVALID_REQUEST', 400],
      [framework('HPE_UNEXPECTED_CONTENT_LENGTH'), 'TV_INVALID_REQUEST', 400],
    ];
    for (const [err, code, status] of cases) {
      const refusal = toOAuthError(err);
      expect([refusal.code, refusal.status]).toStrictEqual([code, status]);
      expect(JSON.stringify({ ...refusal.toBody(), detail: refusal.detail })).not.toContain(CANARY);
    }
  });

  it('keeps an unknown error opaque: no message in the body or the detail', () => {
    const refusal = toOAuthError(new Error(`library failure quoting ${CANARY}`));
    expect(refusal.name).toBe('ServerError');
    expect(JSON.stringify({ ...refusal.toBody(), detail: refusal.detail })).not.toContain(CANARY);
    expect(answer('a string')).toStrictEqual(SERVER_ERROR);
    expect(answer(null)).toStrictEqual(SERVER_ERROR);
  });

  it('classifies Fastify request errors by their codes', () => {
    const fastify = (code: string, statusCode: number) => Object.assign(new Error(CANARY), { code, statusCode });
    expect(answer(fastify('FST_ERR_CTP_BODY_TOO_LARGE', 413)).status).toBe(413);
    expect(answer(fastify('FST_ERR_CTP_INVALID_MEDIA_TYPE', 415)).status).toBe(415);
    expect(toOAuthError(fastify('FST_ERR_CTP_INVALID_JSON_BODY', 400)).detail).toBe('FST_ERR_CTP_INVALID_JSON_BODY');
    expect(toOAuthError(Object.assign(new Error(CANARY), { validation: [] })).detail).toBe('schema validation failed');
    expect(answer(new SyntaxError(CANARY)).code).toBe('TV_INVALID_REQUEST');
    expect(answer(fastify('FST_CSRF_INVALID_TOKEN', 403))).toStrictEqual({
      code: 'TV_CSRF_REJECTED',
      status: 403,
      body: { error: 'access_denied', error_description: 'The request was denied.' },
      headers: {},
    });
  });

  it('passes the vault’s own OAuth errors through unchanged', () => {
    const denied = new AccessDenied(CANARY);
    expect(toOAuthError(denied)).toBe(denied);
    expect(toOAuthError(new TemporarilyUnavailable('x', 5)).headers).toStrictEqual({ 'retry-after': '5' });
  });
});

describe('the pages’ rendering of the same classification', () => {
  const page = (err: unknown) => {
    const p = toPageError(toOAuthError(err));
    return [p.status, p.title];
  };

  it('shows a page error as it is', () => {
    const own = pageErrors.unknownGrant();
    expect(toPageError(toOAuthError(own))).toBe(own);
  });

  it('shows every 503 as "try again", and audit failures as what their code says', () => {
    expect(page(new StoreUnavailableError('down'))).toStrictEqual([503, 'Temporarily unavailable']);
    expect(page(new AuditOverloadError('queue full'))).toStrictEqual([503, 'Temporarily unavailable']);
    expect(page(new AuditUnavailable('x'))).toStrictEqual([503, 'Temporarily unavailable']);
    expect(page(new AuditEventError('bug'))).toStrictEqual([500, 'Something went wrong']);
  });

  it('shows bad forms, CSRF refusals and unknown errors as their pages', () => {
    expect(page(Object.assign(new Error(CANARY), { validation: [] }))).toStrictEqual([400, 'Request not accepted']);
    expect(page(Object.assign(new Error(CANARY), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 }))).toStrictEqual([400, 'Request not accepted']);
    expect(page(Object.assign(new Error(CANARY), { code: 'FST_CSRF_MISSING_SECRET', statusCode: 403 }))).toStrictEqual([403, 'Request refused']);
    expect(page(new Error(CANARY))).toStrictEqual([500, 'Something went wrong']);
    expect(page(Object.assign(new Error(CANARY), { name: 'AuditOverloadError' }))).toStrictEqual([500, 'Something went wrong']);
  });

  it('shows a linking error by its code', () => {
    expect(page(Object.assign(new Error('state past its lifetime'), { code: 'TV_LINK_STATE_EXPIRED' }))).toStrictEqual([400, 'Link expired']);
  });
});
