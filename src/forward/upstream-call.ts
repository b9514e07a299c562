/**
 * Sends a redeemed /forward request to the provider with the upstream access
 * token injected, and hands back the answer as a stream.
 *
 * Bodies are streamed both ways through MeteredBody (size limits; the answer
 * is also scanned for the injected token, which must never reach the
 * gateway). An upstream 401 means the cached token died early (revoked,
 * session ended): the token is replaced once through the refresh single
 * flight and the request is sent again, for idempotent methods (RFC 9110
 * §9.2.2) only: a non-idempotent request may already have taken effect. To be
 * replayable, an idempotent request's body is read whole first when it
 * declares at most REPLAY_BODY_BYTES; a larger or chunked one is streamed and
 * not retried. The retry is part of the same redemption and spends no second use.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import { request as undiciRequest, type Dispatcher } from 'undici';
import { AccessDenied, PayloadTooLarge, UpstreamError, UpstreamTimeout } from '../errors.js';
import { GrantNeedsConsent, type UpstreamAccess, type UpstreamAccessTokens } from '../grants/upstream-access.js';
import { providerDispatcher } from '../net/outbound.js';
import { downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';
import { MeteredBody, relayInto } from './metered-body.js';
import type { Redeemed } from './redeem.js';
import { span, traceHeaders } from '../tracing/span.js';

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
/** Largest body kept in memory so an idempotent request can be sent again after an upstream 401. */
export const REPLAY_BODY_BYTES = 64 * 1024;

async function readWhole(body: Readable, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new PayloadTooLarge('body larger than it declared');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

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

  /** `body`: streamed, or already read whole (a bound action's, forward/bound-body.ts). */
  async send(
    redeemed: Redeemed,
    method: string,
    headers: IncomingHttpHeaders,
    body: Readable | Buffer | null,
    outcome: ForwardOutcome,
  ): Promise<UpstreamAnswer> {
    const { grant } = redeemed;
    const declared = declaredLength(headers);
    const whole = body === null || Buffer.isBuffer(body);
    const replayable = IDEMPOTENT.has(method) && (whole || (declared !== null && declared <= REPLAY_BODY_BYTES));
    const payload = !whole && replayable ? await readWhole(body, declared!) : body;
    let access = await this.#access(() => this.upstream.get(grant, redeemed.cachedAccess));
    const attempt = () => this.#once(redeemed, method, headers, payload, access, outcome);
    let response = await attempt();
    if (response.statusCode === 401) {
      outcome.upstreamStatus = 401;
      await response.body.dump();
      if (!replayable) {
        await this.upstream.forgetRejected(grant, access.accessToken);
        throw new UpstreamError('upstream refused the injected token; not retried (method not idempotent or body streamed)');
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
    const answerBytes = response.headers['content-length'] === undefined ? null : Number(response.headers['content-length']);
    const forms = credentialForms(access.accessToken);
    const leaks = Object.values(relayed).some((v) => {
      const text = Array.isArray(v) ? v.join('\n') : v;
      return forms.some((form) => text.includes(form));
    });
    // Asked for `identity` (headers.ts): an encoded answer could carry the credential unseen.
    const encoding = String(response.headers['content-encoding'] ?? 'identity')
      .trim()
      .toLowerCase();
    const refused = leaks
      ? 'upstream answer headers carry the injected credential'
      : encoding !== 'identity'
        ? 'upstream answer is content-encoded'
        : answerBytes !== null && answerBytes > this.limits.responseBodyBytes
          ? 'upstream answer above the response limit'
          : null;
    if (refused !== null) {
      await response.body.dump();
      throw new UpstreamError(refused);
    }
    const metered = new MeteredBody({
      limit: this.limits.responseBodyBytes,
      tooLarge: () => new UpstreamError('upstream answer grew past the response limit'),
      secret: { forms, found: () => new UpstreamError('upstream answer body carries the injected credential') },
    });
    // An error on either side (limit, leaked credential, upstream reset) tears both down:
    // the gateway's response ends short rather than carrying what must not be relayed.
    relayInto(response.body, metered);
    return { status: response.statusCode, headers: relayed, body: metered, declaredBytes: answerBytes };
  }

  async #access(get: () => Promise<UpstreamAccess>): Promise<UpstreamAccess> {
    try {
      return await get();
    } catch (err) {
      if (err instanceof GrantNeedsConsent) throw new AccessDenied('grant needs the user to re-link');
      throw err;
    }
  }

  /** One upstream request; `body`: streamed (sent once) or read whole (replayable). */
  async #once(
    redeemed: Redeemed,
    method: string,
    headers: IncomingHttpHeaders,
    body: Readable | Buffer | null,
    access: UpstreamAccess,
    outcome: ForwardOutcome,
  ): Promise<Dispatcher.ResponseData> {
    const { apiBase, target, provider, operation } = redeemed;
    const basePath = apiBase.pathname.replace(/\/+$/, '');
    const url = `${apiBase.origin}${basePath}${target.path}${target.query}`;
    const streamed = body !== null && !Buffer.isBuffer(body) ? body : null;
    const meter =
      streamed === null
        ? null
        : new MeteredBody({ limit: this.limits.requestBodyBytes, tooLarge: () => new PayloadTooLarge('streamed body above the forward limit') });
    if (streamed !== null && meter !== null) pipeline(streamed, meter, () => {});
    if (Buffer.isBuffer(body)) outcome.requestBytes = body.length;
    try {
      // The URL, headers and bodies stay out of the span: they carry the injected token and the gateway's query.
      const ids = { 'vault.provider': provider.id, 'vault.operation': operation.name, 'vault.grant': redeemed.grant.id, 'http.request.method': method };
      return await span(
        'forward.upstream',
        async (s) => {
          const response = await undiciRequest(url, {
            method: method as Dispatcher.HttpMethod,
            headers: {
              ...upstreamRequestHeaders(headers, access.accessToken, body === null ? null : Buffer.isBuffer(body) ? body.length : declaredLength(headers)),
              // W3C Trace Context §3.2: with tracing on, the vault's span replaces a gateway's traceparent; off, nothing is added.
              ...traceHeaders(),
            },
            body: Buffer.isBuffer(body) ? body : meter,
            dispatcher: providerDispatcher(provider.allowPrivateNetwork),
            headersTimeout: this.limits.headersTimeoutMs,
            bodyTimeout: this.limits.bodyIdleTimeoutMs,
          });
          s.setAttribute('http.response.status_code', response.statusCode);
          return response;
        },
        ids,
      );
    } catch (err) {
      if (meter && meter.bytes > this.limits.requestBodyBytes) throw new PayloadTooLarge('streamed body above the forward limit');
      const code = (err as { code?: string; cause?: { code?: string } }).code ?? (err as { cause?: { code?: string } }).cause?.code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT')
        throw new UpstreamTimeout(`upstream ${code}`);
      throw new UpstreamError(code === 'EADDRNOTALLOWED' ? 'upstream address not allowed' : `upstream request failed${code ? ` (${code})` : ''}`);
    } finally {
      if (meter) outcome.requestBytes = meter.bytes;
    }
  }
}

/**
 * The forms in which an echoed credential would appear in a header or body: as is, percent-encoded
 * (Salesforce tokens carry `!`; upper- and lower-case hex), and JSON-escaped.
 */
export function credentialForms(token: string): string[] {
  const percent = encodeURIComponent(token);
  const forms = new Set([token, percent, percent.replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()), JSON.stringify(token).slice(1, -1)]);
  return [...forms];
}
