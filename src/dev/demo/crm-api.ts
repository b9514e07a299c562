/**
 * The demo CRM's REST API (under `/api` on the demo CRM's port), protected by
 * the CRM's own OAuth access tokens. Every answer names the user and scopes
 * the bearer token was issued for — never the token — so a call through the
 * vault's `/forward` shows whose upstream token the vault injected.
 *
 *   GET   /contacts[?q=&accountId=]  GET /contacts/{id}   scope contacts.read
 *   POST  /contacts                  PATCH /contacts/{id} scope contacts.write
 *   GET   /accounts                  GET /accounts/{id}   scope contacts.read
 */
import type { KoaContextWithOIDC, OidcAccessToken } from 'oidc-provider';
import { bearerToken, type ApiFactory } from '../fake-oauth-api.js';
import { CrmBook, type ContactInput } from './crm-data.js';

const BODY_LIMIT = 16 * 1024;
const FIELDS = ['firstName', 'lastName', 'email', 'phone', 'title', 'accountId'] as const;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(description);
  }
}

function need(token: OidcAccessToken, scope: string): void {
  // RFC 6750 §3.1: a valid token without the scope this request needs.
  if (!token.scopes.has(scope)) throw new ApiError(403, 'insufficient_scope', `this request needs the scope ${scope}`);
}

async function readJson(ctx: KoaContextWithOIDC): Promise<unknown> {
  if (!/^application\/json\b/i.test(ctx.get('content-type') ?? ''))
    throw new ApiError(415, 'invalid_request', 'send a JSON body (Content-Type: application/json)');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > BODY_LIMIT) throw new ApiError(413, 'invalid_request', 'body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError(400, 'invalid_request', 'the body is not JSON');
  }
}

function contactInput(body: unknown, book: CrmBook, creating: boolean): ContactInput {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new ApiError(400, 'invalid_request', 'the body must be a JSON object');
  const input: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(body)) {
    if (!(FIELDS as readonly string[]).includes(key)) throw new ApiError(400, 'invalid_request', `unknown field ${key}; fields: ${FIELDS.join(', ')}`);
    const required = key === 'firstName' || key === 'lastName';
    if (value === null && !required) input[key] = null;
    else if (typeof value === 'string' && value.trim().length > 0 && value.length <= 200) input[key] = value.trim();
    else throw new ApiError(400, 'invalid_request', `${key} must be a non-empty string of at most 200 characters`);
  }
  if (creating && (!input.firstName || !input.lastName)) throw new ApiError(400, 'invalid_request', 'firstName and lastName are required');
  if (typeof input.email === 'string' && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(input.email))
    throw new ApiError(400, 'invalid_request', 'email is not an e-mail address');
  if (typeof input.accountId === 'string' && !book.hasAccount(input.accountId)) throw new ApiError(400, 'invalid_request', 'no such account');
  return input as ContactInput;
}

function found<T>(record: T | undefined, what: string): T {
  if (record === undefined) throw new ApiError(404, 'not_found', `no such ${what}`);
  return record;
}

async function route(ctx: KoaContextWithOIDC, path: string, token: OidcAccessToken, book: CrmBook): Promise<{ status: number; body: object }> {
  const query = new URL(ctx.req.url ?? '/', 'http://crm.invalid').searchParams;
  const [collection, id, ...rest] = path.split('/').slice(1);
  if (rest.length > 0 || (collection !== 'contacts' && collection !== 'accounts')) throw new ApiError(404, 'not_found', 'no such resource');
  const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
  if (collection === 'accounts') {
    if (method !== 'GET') throw new ApiError(405, 'method_not_allowed', 'accounts are read-only here');
    need(token, 'contacts.read');
    return { status: 200, body: id === undefined ? { accounts: book.accounts() } : { account: found(book.account(id), 'account') } };
  }
  if (method === 'GET') {
    need(token, 'contacts.read');
    if (id !== undefined) return { status: 200, body: { contact: found(book.contact(id), 'contact') } };
    const contacts = book.contacts({ q: query.get('q'), accountId: query.get('accountId') });
    return { status: 200, body: { total: contacts.length, contacts } };
  }
  if (method === 'POST' && id === undefined) {
    need(token, 'contacts.write');
    const input = contactInput(await readJson(ctx), book, true) as ContactInput & { firstName: string; lastName: string };
    const contact = book.create(input, token.accountId!);
    ctx.set('location', `/api/contacts/${contact.id}`);
    return { status: 201, body: { contact } };
  }
  if (method === 'PATCH' && id !== undefined) {
    need(token, 'contacts.write');
    found(book.contact(id), 'contact');
    return { status: 200, body: { contact: book.update(id, contactInput(await readJson(ctx), book, false))! } };
  }
  throw new ApiError(405, 'method_not_allowed', `${ctx.method} is not allowed here`);
}

/** The demo CRM's API over one in-memory {@link CrmBook}. */
export function demoCrmApi(book = new CrmBook()): ApiFactory {
  return (provider, prefix, onCall) => async (ctx, next) => {
    if (!ctx.path.startsWith(prefix)) return next();
    const token = await bearerToken(provider, ctx, { error_description: 'no valid access token of this CRM' });
    if (!token) return;
    const scope = token.scope ?? '';
    onCall({ method: ctx.method, path: ctx.path, sub: token.accountId, scope });
    const authenticatedAs = { user: token.accountId, client: token.clientId ?? null, scope };
    try {
      const { status, body } = await route(ctx, ctx.path.slice(prefix.length - 1), token, book);
      ctx.status = status;
      ctx.body = { authenticatedAs, ...body };
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      ctx.status = err.status;
      if (err.status === 403) ctx.set('www-authenticate', `Bearer error="insufficient_scope"`);
      ctx.body = { authenticatedAs, error: err.error, error_description: err.description };
    }
  };
}
