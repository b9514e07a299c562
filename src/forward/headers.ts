/**
 * Header policy of /forward, both directions.
 *
 * Hop-by-hop headers (RFC 9110 §7.6.1: Connection and every field it names,
 * Keep-Alive, Proxy-*, TE, Trailer, Transfer-Encoding, Upgrade) never cross
 * the vault. Towards the provider, the gateway's credentials (Authorization,
 * Cookie) and its routing (Host, Forwarded, X-Forwarded-*) are dropped: the
 * vault injects the upstream token and the host is the provider's. Towards the
 * gateway, Set-Cookie is dropped, because a provider session cookie (Salesforce
 * `sid`) would be a credential usable without the vault.
 *
 * Headers that let a request say another method or path than the one the
 * operation was checked against (X-HTTP-Method-Override and kin, X-Original-URL,
 * X-Rewrite-URL) are dropped, so the method and path the vault matched are the
 * ones the provider acts on. Accept-Encoding is replaced by `identity`: the
 * answer must arrive uncompressed so the vault can scan it for the injected
 * credential (upstream-call.ts refuses any other Content-Encoding).
 */
import type { IncomingHttpHeaders } from 'node:http';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-connection']);

const NOT_FORWARDED = new Set([
  'host',
  'authorization',
  'cookie',
  'forwarded',
  'expect',
  'content-length',
  'accept-encoding',
  'x-http-method-override',
  'x-http-method',
  'x-method-override',
  'x-original-method',
  'x-original-url',
  'x-rewrite-url',
]);

const NOT_RETURNED = new Set(['set-cookie', 'set-cookie2']);

function connectionTokens(headers: Record<string, string | string[] | undefined>): Set<string> {
  const value = headers.connection;
  const list = Array.isArray(value) ? value.join(',') : (value ?? '');
  return new Set(
    list
      .split(',')
      .map((t) => t.trim().toLowerCase())
      .filter(Boolean),
  );
}

function dropped(name: string, named: Set<string>): boolean {
  return HOP_BY_HOP.has(name) || named.has(name) || name.startsWith('proxy-');
}

/** Headers sent to the provider: the request's end-to-end headers plus the injected credential. */
export function upstreamRequestHeaders(incoming: IncomingHttpHeaders, accessToken: string, contentLength: number | null): Record<string, string | string[]> {
  const named = connectionTokens(incoming);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || dropped(name, named) || NOT_FORWARDED.has(name) || name.startsWith('x-forwarded-')) continue;
    out[name] = value;
  }
  if (contentLength !== null) out['content-length'] = String(contentLength);
  out['accept-encoding'] = 'identity';
  out.authorization = `Bearer ${accessToken}`;
  return out;
}

/** Headers relayed to the gateway from the provider's answer. */
export function downstreamResponseHeaders(upstream: Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const named = connectionTokens(upstream);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(upstream)) {
    if (value === undefined || dropped(name, named) || NOT_RETURNED.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** Query parameters that ask a provider to act with another method (Salesforce `_HttpMethod`, Rails-style `_method`). */
const METHOD_OVERRIDE_PARAMS = new Set(['_httpmethod', '_method']);

/** Whether a raw query string (with its `?`) carries a method override, in any case or encoding. */
export function overridesMethod(query: string): boolean {
  if (query === '') return false;
  for (const pair of query.slice(1).split('&')) {
    const rawName = pair.split('=', 1)[0] ?? '';
    let name: string;
    try {
      name = decodeURIComponent(rawName.replace(/\+/g, ' '));
    } catch {
      return true;
    }
    if (METHOD_OVERRIDE_PARAMS.has(name.trim().toLowerCase())) return true;
  }
  return false;
}
