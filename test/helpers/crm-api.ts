/**
 * The upstream API of the /forward tests: a small Fastify "CRM" that accepts a
 * bearer token only when oidc-provider's introspection endpoint (RFC 7662)
 * says it is active, and records every request it receives, so tests can
 * prove what was (and was not) forwarded.
 *
 *   /api/records/{id}   any method: echoes who the token belongs to
 *   /api/big?bytes=N    streams N bytes; after the first chunk it waits for release()
 *   /api/echo-auth      a broken API that echoes the Authorization header in its body
 *   /api/leak-header    a broken API that echoes it in a response header
 *   /api/slow           answers after 2 s
 *
 * Every answer also carries a Set-Cookie and a hop-by-hop header named in
 * Connection, which the vault must not relay.
 */
import { gzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';
import Fastify from 'fastify';

export interface CrmRequest {
  method: string;
  /** The raw request target as received. */
  url: string;
  /** Headers as received, with the Authorization value moved to `bearer`. */
  headers: Record<string, string | string[] | undefined>;
  bearer: string | undefined;
  /** Whether introspection found the bearer token active. */
  active: boolean;
  bodyBytes: number;
}

export interface CrmApi {
  origin: string;
  readonly requests: CrmRequest[];
  /** Answer the next `count` requests with 401 whatever their token. */
  rejectNext(count: number): void;
  /** Let a waiting /api/big stream finish. */
  release(): void;
  /** Whether the last /api/big stream has written its final byte. */
  readonly bigFinished: boolean;
  close(): Promise<void>;
}

export interface CrmApiOptions {
  /** RFC 7662 endpoint of the fake provider and the client credentials allowed to call it. */
  introspectionEndpoint: string;
  clientId: string;
  clientSecret: string;
}

const CHUNK = 64 * 1024;

export async function startCrmApi(options: CrmApiOptions): Promise<CrmApi> {
  const requests: CrmRequest[] = [];
  let rejecting = 0;
  // release() before the /api/big request has arrived opens its gate in advance.
  let openGate: (() => void) | null = null;
  let releasedEarly = false;
  let bigFinished = false;
  const app = Fastify({ logger: false });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: 64 * 1024 * 1024 }, (_request, body, done) => done(null, body));

  const introspect = async (token: string | undefined): Promise<{ active: boolean; sub?: string }> => {
    if (!token) return { active: false };
    const response = await fetch(options.introspectionEndpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token, client_id: options.clientId, client_secret: options.clientSecret }).toString(),
    });
    return (await response.json()) as { active: boolean; sub?: string };
  };

  app.all('/*', async (request, reply) => {
    const { authorization, ...headers } = request.headers;
    const bearer = /^Bearer (\S+)$/.exec(authorization ?? '')?.[1];
    const { active, sub } = await introspect(bearer);
    const body = request.body as Buffer | undefined;
    requests.push({ method: request.method, url: request.raw.url ?? '', headers, bearer, active, bodyBytes: body?.length ?? 0 });
    reply.header('set-cookie', 'sid=upstream-session; Secure; HttpOnly').header('connection', 'x-upstream-hop').header('x-upstream-hop', 'hop');
    if (rejecting > 0 || !active) {
      rejecting = Math.max(0, rejecting - 1);
      return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: 'invalid_token' });
    }
    const path = request.url.split('?')[0]!;
    if (path === '/api/echo-auth') return { youSent: authorization };
    // Broken in subtler ways: the credential percent-encoded in a header and the body, or a compressed body.
    if (path === '/api/echo-auth-encoded')
      return reply.header('location', `/login?t=${encodeURIComponent(authorization ?? '')}`).send(`t=${encodeURIComponent(authorization ?? '')}`);
    if (path === '/api/echo-auth-encoded-body') return reply.type('text/plain').send(`t=${encodeURIComponent(authorization ?? '')}`);
    if (path === '/api/gzip')
      return reply
        .header('content-encoding', 'gzip')
        .type('application/json')
        .send(gzipSync(JSON.stringify({ youSent: authorization })));
    if (path === '/api/slow') {
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      return { slow: true };
    }
    if (path === '/api/leak-header') return reply.header('x-debug-authorization', authorization).send({ ok: true });
    if (path === '/api/big') {
      const total = Number(new URL(request.url, 'http://x').searchParams.get('bytes') ?? '0');
      bigFinished = false;
      const gate = releasedEarly ? Promise.resolve() : new Promise<void>((resolve) => (openGate = resolve));
      releasedEarly = false;
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'application/octet-stream',
        ...((request.query as { declare?: string }).declare ? { 'content-length': String(total) } : {}),
      });
      for (let sent = 0; sent < total; sent += CHUNK) {
        const ok = reply.raw.write(Buffer.alloc(Math.min(CHUNK, total - sent), 0x61));
        if (sent === 0) await gate;
        else if (!ok) await new Promise((resolve) => reply.raw.once('drain', resolve));
        if (reply.raw.destroyed) return reply;
      }
      bigFinished = true;
      reply.raw.end();
      return reply;
    }
    return { method: request.method, path, sub, bytes: body?.length ?? 0 };
  });

  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    rejectNext(count) {
      rejecting = count;
    },
    release() {
      if (openGate) openGate();
      else releasedEarly = true;
      openGate = null;
    },
    get bigFinished() {
      return bigFinished;
    },
    close: async () => {
      openGate?.();
      await app.close();
    },
  };
}
