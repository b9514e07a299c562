/**
 * Outbound HTTP to providers (discovery, token, revoke, introspect, JWKS).
 *
 * https only (plain http only where the provider is allowed the private
 * network, i.e. loopback servers in dev and tests); redirects are never
 * followed; every call has a deadline and a response size cap; and no
 * connection goes to a loopback, private, link-local or otherwise special
 * address unless the provider is explicitly configured for it (SSRF defence,
 * checked on the resolved address at connect time so DNS rebinding cannot
 * slip past).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { createSecureContext } from 'node:tls';
import { Agent, fetch as undiciFetch } from 'undici';
import { traceHeaders } from '../tracing/span.js';

export interface OutboundPolicy {
  allowPrivateNetwork: boolean;
  timeoutMs: number;
  /** Response bodies above this are refused (token responses are a few KB). */
  maxResponseBytes?: number;
  /** The CA certificates (PEM) to trust instead of the system roots: a webhook endpoint's private CA. */
  ca?: string;
}

export class OutboundError extends Error {
  override name = 'OutboundError';
  readonly code = 'TV_OUTBOUND_FAILED';
  /**
   * `unreachable`: no connection to the provider could be made (refused, no route, no such
   * host, TLS handshake refused), so the request was certainly never sent. `network`: the
   * connection failed in a way that leaves open whether the provider received the request.
   */
  constructor(readonly reason: 'forbidden_address' | 'insecure_scheme' | 'timeout' | 'too_large' | 'redirect' | 'network' | 'unreachable') {
    super(`outbound request refused or failed: ${reason}`);
  }
}

const special = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  special.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  special.addSubnet(net, prefix, 'ipv6');
}

/** True for loopback, private, link-local, CGNAT, documentation, multicast and reserved addresses. */
export function isSpecialAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return special.check(address, 'ipv4');
  if (family === 6) {
    const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
    if (mapped?.[1]) return special.check(mapped[1], 'ipv4');
    return special.check(address, 'ipv6');
  }
  return true;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * Error codes that can only come before a request was written: connecting, resolving or
 * the TLS handshake failed. A reset or close of an established (possibly reused keep-alive)
 * connection is not among them: the request may have been delivered.
 */
const NOT_SENT_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_CONNECT_TIMEOUT',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/** A dns.lookup replacement that refuses special addresses after resolution. */
function guardedLookup(hostname: string, options: { all?: boolean; family?: number }, callback: LookupCallback): void {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
    if (err) return callback(err, []);
    const allowed = addresses.filter((a) => !isSpecialAddress(a.address));
    if (allowed.length === 0) {
      const denied = Object.assign(new Error('address not allowed'), { code: 'EADDRNOTALLOWED' });
      return callback(denied, []);
    }
    if (options.all) return callback(null, allowed);
    const first = allowed[0]!;
    return callback(null, first.address, first.family);
  });
}

const guardedAgent = new Agent({ connect: { lookup: guardedLookup as never }, keepAliveTimeout: 10_000 });
const openAgent = new Agent({ keepAliveTimeout: 10_000 });

/** The connection pool for a provider's policy: the SSRF-guarded one unless it may reach private networks. */
export function providerDispatcher(allowPrivateNetwork: boolean): Agent {
  return allowPrivateNetwork ? openAgent : guardedAgent;
}

/** Pools of policies with their own CA, by CA and network policy (a handful: one per configured endpoint). */
const caAgents = new Map<string, Agent>();

function dispatcherFor(policy: OutboundPolicy): Agent {
  if (policy.ca === undefined) return providerDispatcher(policy.allowPrivateNetwork);
  const key = `${policy.allowPrivateNetwork}\n${policy.ca}`;
  let agent = caAgents.get(key);
  if (!agent) {
    // One TLS context per pool: building it per connection would parse the PEM on every handshake.
    const secureContext = createSecureContext({ ca: policy.ca });
    agent = new Agent({
      connect: policy.allowPrivateNetwork ? { secureContext } : { secureContext, lookup: guardedLookup as never },
      keepAliveTimeout: 10_000,
    });
    caAgents.set(key, agent);
  }
  return agent;
}

const DEFAULT_MAX_BYTES = 256 * 1024;

/** The request's headers plus the active span's `traceparent` (W3C Trace Context §3.2), when tracing is on. */
function withTraceContext(headers: Record<string, string> | Headers | undefined): Record<string, string> | Headers | undefined {
  const trace = traceHeaders();
  if (Object.keys(trace).length === 0) return headers;
  const merged = new Headers(headers);
  for (const [name, value] of Object.entries(trace)) merged.set(name, value);
  return merged;
}

/**
 * A fetch for one provider's policy. Returns a global `Response` (what
 * openid-client expects) whose body was read within the size cap.
 */
export function outboundFetch(policy: OutboundPolicy) {
  const maxBytes = policy.maxResponseBytes ?? DEFAULT_MAX_BYTES;
  return async (
    input: string | URL,
    init: { method?: string; headers?: Record<string, string> | Headers; body?: unknown; signal?: AbortSignal | null } = {},
  ): Promise<Response> => {
    const url = new URL(typeof input === 'string' ? input : input.href);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowPrivateNetwork)) throw new OutboundError('insecure_scheme');
    if (!policy.allowPrivateNetwork && isIP(url.hostname.replace(/^\[|\]$/g, '')) && isSpecialAddress(url.hostname.replace(/^\[|\]$/g, ''))) {
      throw new OutboundError('forbidden_address');
    }
    const deadline = AbortSignal.timeout(policy.timeoutMs);
    const signal = init.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
    let response;
    try {
      response = await undiciFetch(url, {
        method: init.method ?? 'GET',
        headers: withTraceContext(init.headers) as Record<string, string>,
        ...(init.body != null ? { body: init.body as string } : {}),
        redirect: 'manual',
        signal,
        dispatcher: dispatcherFor(policy),
      });
    } catch (err) {
      // openid-client aborts through its own `timeout` signal, which can fire first.
      if (signal.aborted) throw new OutboundError('timeout');
      const code = (err as { cause?: { code?: string } }).cause?.code;
      if (code === 'EADDRNOTALLOWED') throw new OutboundError('forbidden_address');
      throw new OutboundError(code !== undefined && NOT_SENT_CODES.has(code) ? 'unreachable' : 'network');
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new OutboundError('redirect');
    }
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > maxBytes) {
      await response.body?.cancel();
      throw new OutboundError('too_large');
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    try {
      for await (const chunk of response.body ?? []) {
        size += chunk.byteLength;
        if (size > maxBytes) throw new OutboundError('too_large');
        chunks.push(chunk);
      }
    } catch (err) {
      if (err instanceof OutboundError) throw err;
      throw new OutboundError(signal.aborted ? 'timeout' : 'network');
    }
    const headers = new Headers();
    response.headers.forEach((value, key) => headers.append(key, value));
    const body = response.status === 204 || response.status === 304 ? null : Buffer.concat(chunks);
    return new Response(body, { status: response.status, statusText: response.statusText, headers });
  };
}
