/**
 * What a request could use to make the provider act on something other than
 * what the vault checked, and what an upstream could use to hand the injected
 * credential back in disguise (security review, second session).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentialForms } from '../../../src/forward/upstream-call.js';
import { rawForward, rawRequest, startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';
import { withRequestId } from '../../helpers/request-id.js';

let w: ForwardWorld;

beforeAll(async () => {
  w = await startForwardWorld({});
});
afterAll(() => w?.close());

const INSUFFICIENT_SCOPE = { error: 'insufficient_scope', error_description: 'The request is outside the operation the access token was issued for.' };
const UPSTREAM_ERROR = { error: 'upstream_error', error_description: 'The upstream provider failed to answer correctly.' };

describe('the method and path the vault checked are the ones the provider sees', () => {
  it('drops method- and URL-override headers, and asks for an uncompressed answer', async () => {
    const token = await w.operationToken('records.write');
    const before = w.crm.requests.length;
    const res = await w.forward('/records/1', token, {
      method: 'PUT',
      body: '{}',
      headers: {
        'content-type': 'application/json',
        'x-http-method-override': 'DELETE',
        'x-http-method': 'DELETE',
        'x-method-override': 'DELETE',
        'x-original-method': 'DELETE',
        'x-original-url': '/api/admin/users',
        'x-rewrite-url': '/api/admin/users',
        'accept-encoding': 'gzip, br',
      },
    });
    expect(res.status).toBe(200);
    const seen = w.crm.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'PUT', url: '/api/records/1' });
    for (const name of ['x-http-method-override', 'x-http-method', 'x-method-override', 'x-original-method', 'x-original-url', 'x-rewrite-url']) {
      expect(seen[0]!.headers[name], name).toBeUndefined();
    }
    expect(seen[0]!.headers['accept-encoding']).toBe('identity');
  });

  it.each([['?_HttpMethod=DELETE'], ['?a=1&_method=delete'], ['?%5FHttpMethod=DELETE'], ['?_HTTPMETHOD=PATCH']])(
    'refuses a method override in the query (%s) before anything is forwarded, though it spends the use',
    async (query) => {
      const token = await w.operationToken('records.browse');
      const before = w.crm.requests.length;
      const res = await rawForward(w.vault, `/forward/crm/records/1${query}`, token);
      expect({ status: res.status, body: JSON.parse(res.body) }).toStrictEqual({ status: 403, body: withRequestId(res, INSUFFICIENT_SCOPE) });
      expect(w.crm.requests.length).toBe(before);
    },
  );

  it('refuses a GET that carries a body before the token is touched (400), so the use is still there', async () => {
    const token = await w.operationToken();
    const before = w.crm.requests.length;
    const body = '{"x":1}';
    const res = await rawRequest(
      w.vault,
      `GET /forward/crm/records/1 HTTP/1.1\r\nhost: ${new URL(w.vault.internalUrl).host}\r\nauthorization: Bearer ${token}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`,
    );
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_request' });
    expect(w.crm.requests.length).toBe(before);
    expect((await w.forward('/records/1', token)).status).toBe(200);
  });
});

describe('an upstream cannot hand the injected credential back in another form', () => {
  it('knows the percent-encoded (either hex case) and JSON-escaped forms of a token', () => {
    expect(credentialForms('00D!AQ/x"y')).toStrictEqual(['00D!AQ/x"y', '00D!AQ%2Fx%22y', '00D!AQ%2fx%22y', '00D!AQ/x\\"y']);
  });

  it.each([
    ['percent-encoded in a header and the body', '/echo-auth-encoded'],
    ['percent-encoded in the body only', '/echo-auth-encoded-body'],
    ['inside a gzip-compressed body', '/gzip'],
  ])('refuses an answer carrying it %s (502), and relays none of it', async (_how, path) => {
    const res = await w.forward(path, await w.operationToken('debug.echo'));
    expect({ status: res.status, body: res.json() }).toStrictEqual({ status: 502, body: withRequestId(res, UPSTREAM_ERROR) });
    for (const form of credentialForms(w.crm.requests.at(-1)!.bearer!)) {
      expect(res.text.includes(form)).toBe(false);
      expect(JSON.stringify(res.headers).includes(form)).toBe(false);
    }
  });
});
