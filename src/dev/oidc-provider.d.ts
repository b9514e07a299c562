/**
 * Minimal local types for `oidc-provider` 9, which ships none. Only what the
 * dev fakes use is declared; `@types/oidc-provider` exists but would add a
 * dependency for a dev-only module.
 */
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface OidcClient {
    clientId: string;
    clientAuthMethod: string;
    grantTypeAllowed(type: string): boolean;
  }

  interface TokenBase {
    jti: string;
    clientId?: string;
    accountId?: string;
    grantId?: string;
    scope?: string;
    readonly scopes: Set<string>;
    readonly isValid: boolean;
    save(): Promise<string>;
    /** Removes the token from the adapter: it is no longer valid (no grant revocation). */
    destroy(): Promise<void>;
  }

  export type OidcRefreshToken = TokenBase;
  export type OidcAccessToken = TokenBase;

  export interface OidcGrant {
    jti: string;
    accountId?: string;
    clientId?: string;
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    save(): Promise<string>;
  }

  export interface TokenInit {
    accountId: string;
    client: OidcClient;
    grantId: string;
    scope: string;
    gty?: string;
    expiresWithSession?: boolean;
  }

  export interface OidcAccount {
    accountId: string;
    claims(use: string, scope: string): Promise<Record<string, unknown>> | Record<string, unknown>;
  }

  export interface OidcContextState {
    provider: Provider;
    client?: OidcClient;
    account?: OidcAccount;
    params?: Record<string, unknown>;
    entities: { Account?: OidcAccount; AccessToken?: OidcAccessToken; Client?: OidcClient };
    requestParamOIDCScopes: Set<string>;
    requestParamClaims: Set<string>;
    session?: { accountId?: string; grantIdFor(clientId: string): string | undefined };
    result?: { consent?: { grantId?: string } };
  }

  /** The Koa context with oidc-provider's `ctx.oidc` (present once its router matched). */
  export interface KoaContextWithOIDC {
    method: string;
    path: string;
    status: number;
    body: unknown;
    respond: boolean;
    req: IncomingMessage;
    res: ServerResponse;
    get(header: string): string;
    set(header: string, value: string): void;
    redirect(url: string): void;
    oidc: OidcContextState;
  }

  export type Middleware = (ctx: KoaContextWithOIDC, next: () => Promise<void>) => Promise<void>;

  export interface ProviderError extends Error {
    error: string;
    error_description?: string;
    statusCode: number;
  }

  export interface Interaction {
    uid: string;
    prompt: { name: string };
  }

  export interface ClientMetadata {
    client_id: string;
    client_secret?: string;
    redirect_uris: string[];
    grant_types: string[];
    response_types: string[];
    token_endpoint_auth_method: string;
  }

  /** What oidc-provider stores per model (token, grant, session, ...). */
  export interface AdapterPayload {
    grantId?: string;
    uid?: string;
    userCode?: string;
    consumed?: number;
    [field: string]: unknown;
  }

  /** oidc-provider's storage interface, one instance per model. */
  export interface FakeAdapter {
    upsert(id: string, payload: AdapterPayload, expiresIn?: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface Configuration {
    adapter?: (model: string) => FakeAdapter;
    clients: ClientMetadata[];
    jwks: { keys: Record<string, unknown>[] };
    cookies: { keys: string[] };
    claims: Record<string, string[]>;
    scopes: string[];
    routes: Record<string, string>;
    ttl: Record<string, number>;
    pkce: { required: () => boolean };
    rotateRefreshToken: boolean;
    conformIdTokenClaims: boolean;
    clientDefaults: Record<string, unknown>;
    issueRefreshToken: (ctx: KoaContextWithOIDC, client: OidcClient, source: { scopes: Set<string> }) => Promise<boolean>;
    expiresWithSession: () => Promise<boolean>;
    findAccount: (ctx: KoaContextWithOIDC | undefined, sub: string) => Promise<OidcAccount | undefined>;
    loadExistingGrant: (ctx: KoaContextWithOIDC) => Promise<OidcGrant | undefined>;
    features: {
      devInteractions: { enabled: boolean };
      revocation: { enabled: boolean; allowedPolicy?: (ctx: KoaContextWithOIDC, client: OidcClient, token: TokenBase) => Promise<boolean> };
      introspection: { enabled: boolean; allowedPolicy?: (ctx: KoaContextWithOIDC, client: OidcClient, token: TokenBase) => Promise<boolean> };
      userinfo: { enabled: boolean };
    };
  }

  interface TokenClass<T, Init> {
    new (init: Init): T;
    find(value: string, options?: { ignoreExpiration?: boolean }): Promise<T | undefined>;
  }

  export class Provider {
    constructor(issuer: string, configuration: Configuration);
    readonly issuer: string;
    use(middleware: Middleware): this;
    callback(): (req: IncomingMessage, res: ServerResponse) => void;
    on(event: 'grant.success', listener: (ctx: KoaContextWithOIDC) => void): this;
    on(event: 'grant.error', listener: (ctx: KoaContextWithOIDC, error: ProviderError) => void): this;
    on(event: 'grant.revoked', listener: (ctx: KoaContextWithOIDC, grantId: string) => void): this;
    interactionDetails(req: IncomingMessage, res: ServerResponse): Promise<Interaction>;
    interactionFinished(
      req: IncomingMessage,
      res: ServerResponse,
      result: Record<string, unknown>,
      options?: { mergeWithLastSubmission?: boolean },
    ): Promise<void>;
    readonly Client: { find(clientId: string): Promise<OidcClient | undefined> };
    readonly Grant: TokenClass<OidcGrant, { accountId: string; clientId: string }>;
    readonly RefreshToken: TokenClass<OidcRefreshToken, TokenInit>;
    readonly AccessToken: TokenClass<OidcAccessToken, TokenInit>;
  }

  export default Provider;
}
