/**
 * The demo identities of dev mode: who the users and agents are, and keys on
 * disk (keys/dev/, src/dev/keys.ts) so their tokens can be minted outside the
 * vault process, by `npm run demo` (src/dev/demo/cli.ts) or anyone else.
 *
 * User tokens are issued under the demo IdP's own issuer with the demo IdP's
 * own signing key: the vault's user id is `iss` + `sub`
 * (src/identity/user-id.ts), so only then is the user of a `subject_token`
 * the same user who signed in and consented in the browser. Agent tokens come
 * from a separate demo agent issuer whose JWKS the demo IdP's port serves.
 */
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose';
import type { Middleware } from 'oidc-provider';

/** The demo agent: may read and change CRM contacts, once the user consents. */
export const DEMO_AGENT = 'spiffe://dev.local/agents/demo';

/** Agents named without a scheme (`--agent demo`) live under this SPIFFE path. */
const AGENT_PREFIX = 'spiffe://dev.local/agents/';

/** Lifetime of the demo user and agent tokens. */
export const DEMO_TOKEN_TTL_SECONDS = 600;

/** Explicit typing of agent assertions (src/identity/token-verifier.ts). */
export const AGENT_TOKEN_TYP = 'agent+jwt';

export const DEMO_ALG = 'ES256';

export interface DemoIssuers {
  /** Issuer of user tokens: the demo IdP itself. */
  user: string;
  /** Issuer of agent tokens. */
  agent: string;
  agentJwksUri: string;
}

/** The demo issuers of a demo IdP at `idpOrigin` (dev mode: the public port + 1). */
export function demoIssuers(idpOrigin: string): DemoIssuers {
  return { user: idpOrigin, agent: `${idpOrigin}/agents`, agentJwksUri: `${idpOrigin}/agents/jwks` };
}

export function agentId(name: string): string {
  return name.includes(':') ? name : `${AGENT_PREFIX}${name}`;
}

export interface DemoSigner {
  privateKey: KeyObject;
  kid: string;
  publicJwk: JWK;
}

/** The demo IdP's (`idp`) or the demo agent issuer's (`agent`) key from keys/dev/. */
export async function demoSigner(dir: string, which: 'idp' | 'agent'): Promise<DemoSigner> {
  const privateKey = createPrivateKey(await readFile(join(dir, `demo-${which}-signing.key`), 'utf8'));
  const { kty, crv, x, y } = privateKey.export({ format: 'jwk' }) as JWK;
  const bare = { kty, crv, x, y } as JWK;
  const kid = await calculateJwkThumbprint(bare);
  return { privateKey, kid, publicJwk: { ...bare, kid, alg: DEMO_ALG, use: 'sig' } };
}

export interface MintInput {
  issuer: string;
  /** The vault's `audience` (dev mode: its public URL). */
  audience: string;
  sub: string;
  ttlSeconds?: number;
}

function mint(signer: DemoSigner, typ: string, input: MintInput): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  const claims = { iss: input.issuer, sub: input.sub, aud: input.audience, iat, exp: iat + (input.ttlSeconds ?? DEMO_TOKEN_TTL_SECONDS), jti: randomUUID() };
  return new SignJWT(claims).setProtectedHeader({ alg: DEMO_ALG, kid: signer.kid, typ }).sign(signer.privateKey);
}

/** A user's `subject_token` (RFC 8693 §2.1), as the organisation's IdP would issue it. */
export const mintUserToken = (signer: DemoSigner, input: MintInput) => mint(signer, 'JWT', input);

/** An agent's `actor_token`, typed `agent+jwt`. */
export const mintAgentToken = (signer: DemoSigner, input: MintInput) => mint(signer, AGENT_TOKEN_TYP, input);

/** Serves a JWKS at `path` (the demo agent issuer's keys, on the demo IdP's port). */
export function jwksMiddleware(path: string, keys: JWK[]): Middleware {
  const body = { keys };
  return async (ctx, next) => {
    if (ctx.path !== path) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      return;
    }
    ctx.set('cache-control', 'max-age=60');
    ctx.set('content-type', 'application/jwk-set+json');
    ctx.body = body;
  };
}
