/**
 * The smallest protected API a fake provider can have: any method under its
 * prefix answers with who the bearer access token belongs to, so /forward and
 * the demo can prove which upstream token was injected.
 */
import type { Middleware, Provider } from 'oidc-provider';

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
    ctx.set('cache-control', 'no-store');
    const match = /^Bearer ([^\s]+)$/.exec(ctx.get('authorization') ?? '');
    const token = match?.[1] ? await provider.AccessToken.find(match[1]) : undefined;
    if (!token?.isValid || !token.accountId) {
      ctx.status = 401;
      ctx.set('www-authenticate', 'Bearer error="invalid_token"');
      ctx.body = { error: 'invalid_token' };
      return;
    }
    const call = { method: ctx.method, path: ctx.path, sub: token.accountId, scope: token.scope ?? '' };
    onCall(call);
    ctx.status = 200;
    ctx.body = { ok: true, ...call };
  };
}
