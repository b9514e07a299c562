/**
 * The smallest protected API a fake provider can have: any method under its
 * prefix answers with who the bearer access token belongs to, so /forward and
 * the demo can prove which upstream token was injected.
 */
import type { KoaContextWithOIDC, Middleware, OidcAccessToken, Provider } from 'oidc-provider';

export interface ApiCall {
  method: string;
  path: string;
  sub: string;
  scope: string;
}

/** Builds the protected API of a fake provider: its provider, path prefix, and where calls are recorded. */
export type ApiFactory = (provider: Provider, prefix: string, onCall: (call: ApiCall) => void) => Middleware;

export function fakeApi(provider: Provider, prefix: string, onCall: (call: ApiCall) => void): Middleware {
  return async (ctx, next) => {
    if (!ctx.path.startsWith(prefix)) return next();
    const token = await bearerToken(provider, ctx, {});
    if (!token) return;
    const call = { method: ctx.method, path: ctx.path, sub: token.accountId, scope: token.scope ?? '' };
    onCall(call);
    ctx.status = 200;
    ctx.body = { ok: true, ...call };
  };
}

/**
 * The valid access token of this provider the request bears (RFC 6750 §2.1), with its account; or
 * null after answering 401 `invalid_token` with `extra` in the body. Answers are never cached.
 */
export async function bearerToken(
  provider: Provider,
  ctx: KoaContextWithOIDC,
  extra: Record<string, string>,
): Promise<(OidcAccessToken & { accountId: string }) | null> {
  ctx.set('cache-control', 'no-store');
  const match = /^Bearer ([^\s]+)$/.exec(ctx.get('authorization') ?? '');
  const token = match?.[1] ? await provider.AccessToken.find(match[1]) : undefined;
  if (!token?.isValid || !token.accountId) {
    ctx.status = 401;
    ctx.set('www-authenticate', 'Bearer error="invalid_token"');
    ctx.body = { error: 'invalid_token', ...extra };
    return null;
  }
  return token as OidcAccessToken & { accountId: string };
}
