/** Operation-token records and the encrypted upstream access-token cache. */

/** The exact request a token is bound to at /forward (tokens/token-types.ts `boundAction`). */
export interface BoundAction {
  method: string;
  /** Path and query under `/forward/<provider>`, byte for byte as sent. */
  path: string;
  /** base64url SHA-256 of the request body (RFC 4648 §5). */
  bodySha256: string;
}
/** Record of an issued operation token, kept under its `jti` for exactly the token's lifetime. */
export interface OperationTokenRecord {
  jti: string;
  grantId: string;
  userId: string;
  agent: string;
  provider: string;
  operation: string;
  gateway: string;
  /** base64url SHA-256 of the gateway certificate DER (RFC 8705 `x5t#S256`). */
  certThumbprint: string;
  usesLeft: number;
  expiresAt: number;
  /** The grant's consent epoch for this agent when the token was issued (absent = 0). */
  consentEpoch?: number;
  /**
   * The token's proof (tokens/operation-token.ts): an HMAC of the exact token under a key only
   * the signing key yields, so a presented token with this proof is one the vault minted. Absent
   * on records written before proofs existed: their tokens are checked by signature.
   */
  proof?: string;
  /** The one exact request the token allows at /forward (an approved action, or one the exchange named). */
  action?: BoundAction;
}

/** consume() with a proof the record does not hold (or holds none): nothing was spent. */
export const UNPROVEN = 'unproven';

export interface TokenStore {
  /**
   * Store a record with a TTL. Nothing links it to its grant but its `grantId`:
   * callers honour a record only while its grant is live (grants/liveness.ts),
   * which is what kills a revoked grant's outstanding tokens.
   */
  put(record: OperationTokenRecord, ttlMs: number): Promise<void>;
  get(jti: string): Promise<OperationTokenRecord | null>;
  /**
   * Spend one use atomically. Returns the record as it was before spending, or null when
   * the token is unknown, expired, revoked or has no uses left. Never GET-then-DECR.
   * With `proof`, a use is spent only if the record holds that very proof; otherwise
   * nothing is spent and the answer is UNPROVEN. Without it, the caller has checked the
   * token's signature.
   */
  consume(jti: string, proof?: string): Promise<OperationTokenRecord | null | typeof UNPROVEN>;

  /** Cache the encrypted upstream access token of a grant (ciphertext, expiry) with a TTL. */
  cacheAccessToken(grantId: string, entry: CachedAccessToken, ttlMs: number): Promise<void>;
  getAccessToken(grantId: string): Promise<CachedAccessToken | null>;
  dropAccessToken(grantId: string): Promise<void>;
}

export interface CachedAccessToken {
  /** Envelope ciphertext (base64url) of the access token. */
  ciphertext: string;
  /** Epoch ms when the upstream token expires. */
  expiresAt: number;
  /** Grant version the token was obtained under. */
  grantVersion: number;
}
