/**
 * The consent pages as an OIDC client of the organisation's IdP: authorization
 * code + PKCE S256 + nonce + state (openid-client), discovery and token calls
 * through the same guarded outbound fetch as the providers.
 */
import * as oidc from 'openid-client';
import type { Config } from '../config/schema.js';
import { outboundFetch } from '../net/outbound.js';

type LoginConfig = NonNullable<Config['identity']['login']>;

export interface SignInChecks {
  state: string;
  nonce: string;
  codeVerifier: string;
}

export interface SignedInUser {
  issuer: string;
  subject: string;
  displayName: string;
}

const TIMEOUT_MS = 5_000;

export class IdpClient {
  private config: Promise<oidc.Configuration> | undefined;

  constructor(
    private readonly login: LoginConfig,
    private readonly clientSecret: string | undefined,
    private readonly redirectUri: string,
  ) {}

  private configuration(): Promise<oidc.Configuration> {
    if (!this.config) {
      const auth = this.clientSecret ? oidc.ClientSecretPost(this.clientSecret) : oidc.None();
      const fetch = outboundFetch({ allowPrivateNetwork: this.login.allowPrivateNetwork, timeoutMs: TIMEOUT_MS });
      const insecure = this.login.allowPrivateNetwork ? [oidc.allowInsecureRequests] : [];
      const pending = oidc
        .discovery(new URL(this.login.issuer), this.login.clientId, undefined, auth, {
          [oidc.customFetch]: fetch,
          timeout: TIMEOUT_MS / 1000,
          execute: insecure,
        })
        .then((config) => {
          config[oidc.customFetch] = fetch;
          return config;
        });
      // A failed discovery is not cached: the next sign-in tries again.
      pending.catch(() => (this.config = undefined));
      this.config = pending;
    }
    return this.config;
  }

  /** Fresh checks for one sign-in attempt. */
  static newChecks(): SignInChecks {
    return { state: oidc.randomState(), nonce: oidc.randomNonce(), codeVerifier: oidc.randomPKCECodeVerifier() };
  }

  async authorizationUrl(checks: SignInChecks): Promise<URL> {
    const config = await this.configuration();
    return oidc.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      response_type: 'code',
      scope: this.login.scopes.join(' '),
      state: checks.state,
      nonce: checks.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(checks.codeVerifier),
      code_challenge_method: 'S256',
    });
  }

  /** Redeem the code of a callback URL; verifies state, `iss` (RFC 9207), PKCE and the ID token's nonce. */
  async redeem(callbackUrl: URL, checks: SignInChecks): Promise<SignedInUser> {
    const config = await this.configuration();
    const tokens = await oidc.authorizationCodeGrant(
      config,
      callbackUrl,
      { pkceCodeVerifier: checks.codeVerifier, expectedState: checks.state, expectedNonce: checks.nonce, idTokenExpected: true },
      { redirect_uri: this.redirectUri },
    );
    const claims = tokens.claims();
    if (!claims) throw new Error('no ID token');
    const name = [claims.name, claims.preferred_username, claims.email].find((v): v is string => typeof v === 'string' && v.length > 0);
    return { issuer: claims.iss, subject: claims.sub, displayName: name ?? claims.sub };
  }
}
