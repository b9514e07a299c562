/**
 * Browser sessions of the consent pages: an opaque random id in a `__Host-`
 * cookie (Secure, HttpOnly, SameSite=Lax, Path=/, no Domain), the data
 * server-side with a TTL. A new id is issued at every sign-in (no fixation).
 */
import { randomBytes } from 'node:crypto';
import type { CookieSerializeOptions } from '@fastify/cookie';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Session, SessionStore } from '../store/session-store.js';

export const SESSION_COOKIE = '__Host-tv_session';
/** Holds the `state` of a sign-in in flight, binding it to this browser. */
export const SIGN_IN_COOKIE = '__Host-tv_signin';

export interface ActiveSession extends Session {
  id: string;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The signed-in user of the consent pages, or null. */
    session: ActiveSession | null;
  }
}

/** ≥ 256 bits from node:crypto, base64url. */
export const randomId = (bytes = 32): string => randomBytes(bytes).toString('base64url');

export const hostCookie = (maxAgeSeconds: number): CookieSerializeOptions => ({
  secure: true,
  httpOnly: true,
  sameSite: 'lax',
  path: '/',
  maxAge: maxAgeSeconds,
});

export async function loadSession(request: FastifyRequest, sessions: SessionStore): Promise<void> {
  const id = request.cookies[SESSION_COOKIE];
  if (!id || id.length > 64) return;
  const session = await sessions.get(id);
  request.session = session ? { ...session, id } : null;
}

/** Start a session for a freshly signed-in user, ending any previous one of this browser. */
export async function startSession(
  request: FastifyRequest,
  reply: FastifyReply,
  sessions: SessionStore,
  user: { userId: string; displayName: string },
  ttlSeconds: number,
): Promise<void> {
  const previous = request.cookies[SESSION_COOKIE];
  if (previous) await sessions.destroy(previous);
  const id = randomId();
  await sessions.create(id, { ...user, csrfSecret: randomId(18), createdAt: Date.now() }, ttlSeconds * 1000);
  reply.setCookie(SESSION_COOKIE, id, hostCookie(ttlSeconds));
}

export async function endSession(request: FastifyRequest, reply: FastifyReply, sessions: SessionStore): Promise<void> {
  const id = request.cookies[SESSION_COOKIE];
  if (id) await sessions.destroy(id);
  reply.clearCookie(SESSION_COOKIE, hostCookie(0));
}
