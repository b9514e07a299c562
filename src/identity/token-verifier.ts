/**
 * Verification of the two identity tokens of an exchange (RFC 8693 §2.1):
 * `subject_token` (the user) and `actor_token` (the agent).
 *
 * Each kind has its own trusted issuers, and the keys of an issuer come only
 * from its configured JWKS. Rules (RFC 8725): an explicit asymmetric algorithm
 * allowlist per issuer, `aud` = the vault, `exp` required, `nbf`/`iat` within
 * the configured skew, `exp − iat` within the configured maximum lifetime (and
 * then `iat` required: a lifetime that cannot be known is not short), and explicit typing so one kind cannot pass as the
 * other: a token typed `agent+jwt` is only ever an actor token, and an issuer
 * trusted for both kinds must type its actor tokens that way.
 */
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Config } from '../config/schema.js';
import { InvalidRequest, type RuleOf } from '../errors.js';
import { loadJwks } from './jwks.js';
import { userIdOf } from './user-id.js';
import { VerifiedTokenCache } from './verified-cache.js';

export type IdentityTokenKind = 'subject_token' | 'actor_token';

/** `act` / `may_act` (RFC 8693 §4.1, §4.4): who acts, or who may act. */
export interface ActorClaim {
  sub: string;
  iss?: string;
}

export interface SubjectIdentity {
  /** The vault user id (`iss` + `sub`). */
  userId: string;
  issuer: string;
  /** `act` of the subject token: the agent, when no actor token is sent. */
  act?: ActorClaim;
  /** `may_act`: when present, the only agent allowed to act for this user. */
  mayAct?: ActorClaim;
  /** Token `exp`, epoch seconds. */
  expiresAt: number;
}

export interface ActorIdentity {
  /** Agent id: the actor token's `sub` (a SPIFFE id for JWT-SVIDs). */
  agent: string;
  issuer: string;
  expiresAt: number;
}

type IssuerConfig = Config['identity']['subjectIssuers'][number];

interface TrustedIssuer {
  issuer: string;
  algorithms: string[];
  keys: JWTVerifyGetKey;
  /** Also trusted for the other kind: typing decides the kind. */
  shared: boolean;
}

/** Explicit type of agent assertions when an issuer issues both kinds. */
export const ACTOR_TOKEN_TYP = 'agent+jwt';

const normaliseTyp = (typ: unknown) => (typeof typ === 'string' ? typ.toLowerCase().replace(/^application\//, '') : undefined);

function actorClaim(value: unknown): ActorClaim | undefined | null {
  if (value === undefined) return undefined;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return null;
  const { sub, iss } = value as Record<string, unknown>;
  if (typeof sub !== 'string' || sub.length === 0) return null;
  if (iss !== undefined && typeof iss !== 'string') return null;
  return iss === undefined ? { sub } : { sub, iss };
}

/** The rule a jose refusal broke, by its code and claim: never the library's message. */
function joseRule(kind: IdentityTokenKind, err: unknown): RuleOf<'TV_INVALID_REQUEST'> {
  if (!(err instanceof joseErrors.JOSEError)) return `${kind} could not be verified`;
  switch (err.code) {
    case 'ERR_JWT_EXPIRED':
      return `${kind} has expired`;
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return `${kind} algorithm is not allowed for its issuer`;
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
      return `${kind} signature does not verify with its issuer keys`;
    case 'ERR_JWS_INVALID':
    case 'ERR_JWT_INVALID':
      return `${kind} is not a JWT`;
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const { claim, reason } = err as joseErrors.JWTClaimValidationFailed;
      if (reason === 'missing') return `${kind} lacks a required claim (exp, sub)`;
      if (claim === 'aud') return `${kind} audience is not this vault`;
      // Only a value that failed its time check says so; a malformed one (`reason: 'invalid'`) is not "in the future".
      if (claim === 'nbf' && reason === 'check_failed') return `${kind} is not yet valid`;
      if (claim === 'iat' && reason === 'check_failed') return `${kind} is issued in the future`;
    }
  }
  return `${kind} could not be verified`;
}

export class TokenVerifier {
  readonly #subject: Map<string, TrustedIssuer>;
  readonly #actor: Map<string, TrustedIssuer>;
  readonly #subjectCache = new VerifiedTokenCache<SubjectIdentity>();
  readonly #actorCache = new VerifiedTokenCache<ActorIdentity>();

  private constructor(
    subject: Map<string, TrustedIssuer>,
    actor: Map<string, TrustedIssuer>,
    private readonly audience: string,
    private readonly skewSeconds: number,
    private readonly maxLifetimeSeconds: number | null,
    private readonly now: () => number,
  ) {
    this.#subject = subject;
    this.#actor = actor;
  }

  static async create(identity: Config['identity'], audience: string, now: () => number = Date.now): Promise<TokenVerifier> {
    const subjectNames = new Set(identity.subjectIssuers.map((i) => i.issuer));
    const actorNames = new Set(identity.actorIssuers.map((i) => i.issuer));
    const build = async (list: IssuerConfig[], other: Set<string>) => {
      const map = new Map<string, TrustedIssuer>();
      for (const i of list) {
        map.set(i.issuer, { issuer: i.issuer, algorithms: i.algorithms, keys: await loadJwks(i), shared: other.has(i.issuer) });
      }
      return map;
    };
    return new TokenVerifier(
      await build(identity.subjectIssuers, actorNames),
      await build(identity.actorIssuers, subjectNames),
      audience,
      identity.clockSkewSeconds,
      identity.maxTokenLifetimeSeconds,
      now,
    );
  }

  async verifySubject(token: string): Promise<SubjectIdentity> {
    const key = VerifiedTokenCache.keyOf('subject', token);
    const cached = this.#subjectCache.get(key);
    if (cached) return cached;
    const { payload, typ } = await this.#verify('subject_token', token, this.#subject);
    const trusted = this.#subject.get(payload.iss!)!;
    if (typ === ACTOR_TOKEN_TYP) throw new InvalidRequest('subject_token: typed as an actor token').because('subject_token is typed as an actor token');
    if (trusted.shared && typ !== undefined && typ !== 'jwt' && typ !== 'at+jwt')
      throw new InvalidRequest('subject_token: unexpected typ').because('subject_token has an unexpected typ');
    const act = actorClaim(payload.act);
    const mayAct = actorClaim(payload.may_act);
    if (act === null) throw new InvalidRequest('subject_token: malformed act').because('subject_token act claim is malformed');
    if (mayAct === null) throw new InvalidRequest('subject_token: malformed may_act').because('subject_token may_act claim is malformed');
    const identity: SubjectIdentity = {
      userId: userIdOf(payload.iss!, payload.sub!),
      issuer: payload.iss!,
      ...(act ? { act } : {}),
      ...(mayAct ? { mayAct } : {}),
      expiresAt: payload.exp!,
    };
    this.#subjectCache.set(key, identity, payload.exp! * 1000);
    return identity;
  }

  async verifyActor(token: string): Promise<ActorIdentity> {
    const key = VerifiedTokenCache.keyOf('actor', token);
    const cached = this.#actorCache.get(key);
    if (cached) return cached;
    const { payload, typ } = await this.#verify('actor_token', token, this.#actor);
    const trusted = this.#actor.get(payload.iss!)!;
    if (trusted.shared && typ !== ACTOR_TOKEN_TYP)
      throw new InvalidRequest('actor_token: issuer also issues subject tokens; actor tokens must be typed agent+jwt').because(
        'actor_token must be typed agent+jwt by an issuer of both kinds',
      );
    if (typ !== undefined && typ !== 'jwt' && typ !== ACTOR_TOKEN_TYP)
      throw new InvalidRequest('actor_token: unexpected typ').because('actor_token has an unexpected typ');
    // Delegation claims describe a user's token, never an agent's own assertion.
    if (payload.act !== undefined || payload.may_act !== undefined)
      throw new InvalidRequest('actor_token: carries delegation claims').because('actor_token carries delegation claims');
    const identity: ActorIdentity = { agent: payload.sub!, issuer: payload.iss!, expiresAt: payload.exp! };
    this.#actorCache.set(key, identity, payload.exp! * 1000);
    return identity;
  }

  async #verify(kind: IdentityTokenKind, token: string, issuers: Map<string, TrustedIssuer>): Promise<{ payload: JWTPayload; typ: string | undefined }> {
    let claimedIssuer: unknown;
    let typ: string | undefined;
    try {
      claimedIssuer = decodeJwt(token).iss;
      typ = normaliseTyp(decodeProtectedHeader(token).typ);
    } catch {
      throw new InvalidRequest(`${kind}: not a JWT`).because(`${kind} is not a JWT`);
    }
    const trusted = typeof claimedIssuer === 'string' ? issuers.get(claimedIssuer) : undefined;
    if (!trusted) throw new InvalidRequest(`${kind}: issuer not trusted for this token kind`).because(`${kind} issuer is not trusted`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, trusted.keys, {
        issuer: trusted.issuer,
        audience: this.audience,
        algorithms: trusted.algorithms,
        clockTolerance: this.skewSeconds,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(this.now()),
      }));
    } catch (err) {
      const code = err instanceof joseErrors.JOSEError ? err.code : 'ERR_UNKNOWN';
      throw new InvalidRequest(`${kind}: ${code}`).because(joseRule(kind, err));
    }
    if (typeof payload.sub !== 'string' || payload.sub.length === 0)
      throw new InvalidRequest(`${kind}: empty sub`).because(`${kind} lacks a required claim (exp, sub)`);
    if (typeof payload.iat === 'number' && payload.iat > this.now() / 1000 + this.skewSeconds)
      throw new InvalidRequest(`${kind}: issued in the future`).because(`${kind} is issued in the future`);
    if (this.maxLifetimeSeconds !== null) {
      if (typeof payload.iat !== 'number')
        throw new InvalidRequest(`${kind}: no iat, so no known lifetime`).because(`${kind} lacks iat, so its lifetime is unknown`);
      if (payload.exp! - payload.iat > this.maxLifetimeSeconds)
        throw new InvalidRequest(`${kind}: lifetime over the maximum`).because(`${kind} lifetime exceeds the maximum`);
    }
    return { payload, typ };
  }
}
