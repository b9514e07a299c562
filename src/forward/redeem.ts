/**
 * Redeeming an operation token at /forward: every check that decides whether
 * a request may go upstream, in the order of docs/architecture.md#forward, before anything is sent.
 *
 * Who presents the token is checked before a use is spent: signature, expiry
 * and `cnf.x5t#S256` against this connection's certificate (RFC 8705 §3), so
 * a token replayed from another connection cannot burn its holder's use. The
 * signature is checked by its record: a use is spent only when the record
 * holds the presented token's proof (tokens/operation-token.ts), which only
 * the mint of these exact bytes wrote; any other token (forged, or minted
 * before proofs existed) spends nothing and has its signature checked as it
 * always was. Either way no use is spent for a token the vault did not sign. What
 * the request does is checked after the use is spent: kill switches, the
 * provider in the path, method and path against the operation, and the
 * grant (still active, the user's, and still consenting: grants/liveness.ts).
 * This is the safer side: a token presented for anything outside its one
 * operation is dead afterwards (treated as misused), and a hostile agent gets
 * one probe per audited exchange, not unlimited probes per token. The spend
 * itself is one atomic step (TokenStore.consume), so of N concurrent
 * redemptions of a single-use token exactly one passes.
 */
import type { AuditEventInput } from '../audit/events.js';
import type { SigningKeys } from '../crypto/signing-keys.js';
import { AccessDenied, InsufficientScope, InvalidToken, UpstreamError, assert } from '../errors.js';
import { overridesMethod } from './headers.js';
import type { KillSwitchCache } from '../kill-switches/cache.js';
import { grantHonours } from '../grants/liveness.js';
import type { PeerIdentity } from '../identity/peer-certificate.js';
import type { Operation, Provider, ProviderCatalog } from '../providers/catalog.js';
import { allowedInstanceUrl } from '../providers/instance-url.js';
import { UNPROVEN, type CachedAccessToken, type TokenStore } from '../store/token-store.js';
import type { Grant, GrantStore } from '../store/grant-store.js';
import { matchPattern, parseForwardTarget, type ForwardTarget } from './path-policy.js';
import { operationTokenSignatureValid, readOperationToken } from '../tokens/operation-token.js';
import type { BoundAction } from '../tokens/token-types.js';

export type ForwardTrail = Pick<AuditEventInput, 'gateway' | 'agent' | 'user' | 'provider' | 'grant' | 'operation' | 'jti'>;

export interface Redeemed {
  grant: Grant;
  provider: Provider;
  operation: Operation;
  target: ForwardTarget;
  /** The operation's path pattern that matched: the audit's path template. */
  template: string;
  /** Origin + base path of the provider's API, never from the request. */
  apiBase: URL;
  /** The grant's cached upstream token, read in the same round trip as the grant. */
  cachedAccess: Promise<CachedAccessToken | null>;
  /** The one exact request the token allows: its body is checked before anything leaves (bound-body.ts). */
  action?: BoundAction;
}

export interface VaultAuthority {
  host: string | undefined;
  allowed: ReadonlySet<string>;
}

export interface RedeemDeps {
  issuer: string;
  signingKeys: SigningKeys;
  /** Clock difference between replicas tolerated on the token's times (config `identity.clockSkewSeconds`). */
  clockSkewSeconds: number;
  catalog: ProviderCatalog;
  tokens: TokenStore;
  grants: GrantStore;
  killSwitches: KillSwitchCache;
  /** Starts reading a grant's cached upstream token (UpstreamAccessTokens.prefetch). */
  prefetch: (grantId: string) => Promise<CachedAccessToken | null>;
}

const BEARER = /^Bearer ([A-Za-z0-9_.~+/-]+=*)$/;

/** RFC 6750 §3: a refused bearer token is a 401 with a challenge. */
export function invalidToken(detail: string): InvalidToken {
  const err = new InvalidToken(detail);
  err.headers = { 'www-authenticate': 'Bearer error="invalid_token"' };
  return err;
}

export class OperationTokenRedeemer {
  constructor(private readonly deps: RedeemDeps) {}

  /** `authority`: the request's Host and the names the vault answers to on this connection. */
  async redeem(
    rawUrl: string,
    method: string,
    authorization: string | undefined,
    peer: PeerIdentity,
    authority: VaultAuthority,
    trail: ForwardTrail,
  ): Promise<Redeemed> {
    const { catalog, tokens, grants, killSwitches } = this.deps;
    trail.gateway = peer.id;
    const token = BEARER.exec(authorization ?? '')?.[1];
    assert(token, () => invalidToken('no bearer operation token'));

    const { issuer, clockSkewSeconds } = this.deps;
    const refused = () => invalidToken('operation token signature, type or lifetime refused');
    let read;
    try {
      read = readOperationToken(token, this.deps.signingKeys, { issuer, clockSkewSeconds });
    } catch {
      throw refused();
    }
    const { claims } = read;
    // Not yet authenticated: a forged cnf can only be refused here, never accepted.
    assert(claims.cnf['x5t#S256'] === peer.thumbprint, () => invalidToken('token bound to another certificate'));

    let record = await tokens.consume(claims.jti, read.proof);
    if (record === UNPROVEN || record === null) {
      assert(operationTokenSignatureValid(token, this.deps.signingKeys), refused);
      if (record === UNPROVEN) record = await tokens.consume(claims.jti);
    }
    assert(record !== UNPROVEN && record, () => invalidToken('token unknown, expired, revoked or spent'));
    Object.assign(trail, {
      agent: record.agent,
      user: record.userId,
      provider: record.provider,
      grant: record.grantId,
      operation: record.operation,
      jti: record.jti,
    });
    assert(record.certThumbprint === peer.thumbprint && record.gateway === peer.id, () => invalidToken('record bound to another certificate'));

    killSwitches.assertOpen({ gateway: peer.id, agent: record.agent, user: record.userId, provider: record.provider, grant: record.grantId });

    assert(authority.host !== undefined && authority.allowed.has(authority.host), () => new AccessDenied('Host names another server'));
    const target = parseForwardTarget(rawUrl);
    assert(target, () => new InsufficientScope('request target refused by normalisation'));
    assert(target.provider === record.provider, () => new InsufficientScope('token minted for another provider'));
    const provider = catalog.provider(record.provider);
    const operation = catalog.operation(record.operation);
    assert(provider && operation, () => new InsufficientScope('operation no longer configured'));
    assert((operation.methods as readonly string[]).includes(method), () => new InsufficientScope('method outside the operation'));
    const template = matchPattern(operation.paths, target.segments);
    assert(template, () => new InsufficientScope('path outside the operation'));
    // The method matched above is the one the provider must act on.
    assert(!overridesMethod(target.query), () => new InsufficientScope('method override in the query'));
    // A bound token (an approved action) allows one exact request: method, path and query as approved.
    const { action } = record;
    assert(
      !action || (action.method === method && action.path === `${target.path}${target.query}`),
      () => new InsufficientScope('request differs from the approved action'),
    );

    // Issued together: on Redis both commands share one round trip (auto-pipelining).
    const cachedAccess = this.deps.prefetch(record.grantId);
    const grant = await grants.get(record.grantId);
    // The only thing that kills a revoked, unlinked or re-consented grant's outstanding tokens.
    assert(grantHonours(record, grant), () => new AccessDenied('grant no longer honours the token'));
    return { grant, provider, operation, target, template, apiBase: apiBaseOf(provider, grant), cachedAccess, ...(action && { action }) };
  }
}

/** The provider's API base: configured, or the grant's `instance_url` (Salesforce). Never the request's Host. */
function apiBaseOf(provider: Provider, grant: Grant): URL {
  if (provider.apiBase.from === 'grant') {
    assert(grant.instanceUrl, () => new UpstreamError('grant has no instance URL'));
    // An instance URL came from the provider's token response: only the provider's own hosts.
    const url = allowedInstanceUrl(provider, grant.instanceUrl);
    assert(url, () => new UpstreamError('instance URL outside the provider hosts'));
    return url;
  }
  const cached = configuredBases.get(provider);
  if (cached) return cached;
  const url = new URL(provider.apiBase.url);
  const allowed = url.protocol === 'https:' || (url.protocol === 'http:' && provider.allowPrivateNetwork);
  assert(allowed && url.username === '' && url.password === '' && url.search === '', () => new UpstreamError('provider API base refused'));
  configuredBases.set(provider, url);
  return url;
}

/** A configured API base, parsed and checked once per provider (the catalog's objects do not change; a reload builds new ones). */
const configuredBases = new WeakMap<Provider, URL>();
