/**
 * Sends a redeemed /forward request to the provider with the upstream access
 * token injected, and hands back the answer as a stream.
 *
 * Bodies are streamed both ways through MeteredBody (size limits; the answer
 * is also scanned for the injected token, which must never reach the
 * gateway). An upstream 401 means the cached token died early (revoked,
 * session ended): the token is replaced once through the refresh single
 * flight and the request is sent again, for idempotent methods (RFC 9110
 * §9.2.2) without a body only, since a streamed body cannot be replayed and a
 * non-idempotent request may already have taken effect. The retry is part of
 * the same redemption and spends no second use.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { request as undiciRequest, type Dispatcher } from 'undici';
import { AccessDenied, PayloadTooLarge, UpstreamError, UpstreamTimeout } from '../errors.js';
import { GrantNeedsConsent, type UpstreamAccess, type UpstreamAccessTokens } from '../exchange/upstream-access.js';
import { providerDispatcher } from '../providers/outbound.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { MeteredBody } from './metered-body.js';
import type { Redeemed } from './redeem.js';

export interface ForwardLimits {
  requestBodyBytes: number;
  responseBodyBytes: number;
  headersTimeoutMs: number;
  bodyIdleTimeoutMs: number;
}

/** What happened upstream, filled in as it happens (for the audit record, also on failure). */
export interface ForwardOutcome {
  upstreamStatus?: number;
  requestBytes?: number;
  retried?: boolean;
}

export interface UpstreamAnswer {
  status: number;
  headers: Record<string, string | string[]>;
  /** The provider's body, metered and scanned; `bytes` is final once it has ended. */
  body: MeteredBody;
  /** Content-Length the provider declared, when it did. */
  declaredBytes: number | null;
}

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE']);

export function declaredLength(headers: IncomingHttpHeaders): number | null {
  const value = headers['content-length'];
  return value === undefined ? null : Number(value);
}

/** Whether the request carries a body at all (RFC 9112 §6.3). */
export function hasBody(headers: IncomingHttpHeaders): boolean {
  return headers['transfer-encoding'] !== undefined || (declaredLength(headers) ?? 0) > 0;
}

export class UpstreamCaller {
  constructor(
    private readonly upstream: UpstreamAccessTokens,
    private readonly limits: ForwardLimits,
  ) {}

  async send(redeemed: Redeemed, method: string, headers: IncomingHttpHeaders, body: Readable | null, outcome: ForwardOutcome): Promise<UpstreamAnswer> {
    const { grant } = redeemed;
    let access = await this.#access(() => this.upstream.get(grant, redeemed.cachedAccess));
    const attempt = () => this.#once(redeemed, method, headers, body, access, outcome);
    let response = await attempt();
    if (response.statusCode === 401) {
      outcome.upstreamStatus = 401;
      await response.body.dump();
      if (body !== null || !IDEMPOTENT.has(method)) {
        await this.upstream.forgetRejected(grant, access.accessToken);
        throw new UpstreamError('upstream refused the injected token; not retried (method or body not replayable)');
      }
      access = await this.#access(() => this.upstream.replaceRejected(grant, access.accessToken));
      outcome.retried = true;
      response = await attempt();
      if (response.statusCode === 401) {
        outcome.upstreamStatus = 401;
        await response.body.dump();
        throw new UpstreamError('upstream refused a freshly refreshed token');
      }
    }
    outcome.upstreamStatus = response.statusCode;

    const relayed = downstreamResponseHeaders(response.headers);
    const declared = response.headers['content-length'] === undefined ? null : Number(response.headers['content-length']);
    const leaks = Object.values(relayed).some((v) => (Array.isArray(v) ? v.join('\n') : v).includes(access.accessToken));
    if (leaks || (declared !== null && declared > this.limits.responseBodyBytes)) {
      await response.body.dump();
      throw new UpstreamError(leaks ? 'upstream answer headers carry the injected credential' : 'upstream answer above the response limit');
    }
    const metered = new MeteredBody({
      limit: this.limits.responseBodyBytes,
      tooLarge: () => new UpstreamError('upstream answer grew past the response limit'),
      secret: { value: access.accessToken, found: () => new UpstreamError('upstream answer body carries the injected credential') },
    });
    // An error on either side (limit, leaked credential, upstream reset) tears both down:
    // the gateway's response ends short rather than carrying what must not be relayed.
    pipeline(response.body, metered, () => {});
    return { status: response.statusCode, headers: relayed, body: metered, declaredBytes: declared };
  }

  async #access(get: () => Promise<UpstreamAccess>): Promise<UpstreamAccess> {
    try {
      return await get();
    } catch (err) {
      if (err instanceof GrantNeedsConsent) throw new AccessDenied('grant needs the user to re-link');
      throw err;
    }
  }

  async #once(redeemed: Redeemed, method: string, headers: IncomingHttpHeaders, body: Readable | null, access: UpstreamAccess, outcome: ForwardOutcome): Promise<Dispatcher.ResponseData> {
    const { apiBase, target, provider } = redeemed;
    const basePath = apiBase.pathname.replace(/\/+$/, '');
    const url = `${apiBase.origin}${basePath}${target.path}${target.query}`;
    const meter = body === null ? null : new MeteredBody({ limit: this.limits.requestBodyBytes, tooLarge: () => new PayloadTooLarge('streamed body above the forward limit') });
    if (body !== null && meter !== null) pipeline(body, meter, () => {});
    try {
      return await undiciRequest(url, {
        method: method as Dispatcher.HttpMethod,
        headers: upstreamRequestHeaders(headers, access.accessToken, body === null ? null : declaredLength(headers)),
        body: meter,
        dispatcher: providerDispatcher(provider.allowPrivateNetwork),
        headersTimeout: this.limits.headersTimeoutMs,
        bodyTimeout: this.limits.bodyIdleTimeoutMs,
      });
    } catch (err) {
      if (meter && meter.bytes > this.limits.requestBodyBytes) throw new PayloadTooLarge('streamed body above the forward limit');
      const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') throw new UpstreamTimeout(`upstream ${code}`);
      throw new UpstreamError(code === 'EADDRNOTALLOWED' ? 'upstream address not allowed' : `upstream request failed${code ? ` (${code})` : ''}`);
    } finally {
      if (meter) outcome.requestBytes = meter.bytes;
    }
  }
}
