/**
 * Accounts of a fake OAuth server, the password check its dev login page
 * lacks, and automatic consent for first-party clients.
 */
import { timingSafeEqual } from 'node:crypto';
import type { KoaContextWithOIDC, Middleware, OidcAccount, OidcGrant, Provider } from 'oidc-provider';

/** Members of this IdP group are the vault's security team (admin API). */
export const ADMIN_GROUP = 'token-vault-admins';

export interface FakeAccount {
  /** Login name and `sub`. */
  id: string;
  password: string;
  email?: string;
  name?: string;
  groups?: string[];
}

export const DEFAULT_ACCOUNTS: readonly FakeAccount[] = [
  { id: 'alice', password: 'alice', email: 'alice@example.com', name: 'Alice Example', groups: ['engineering'] },
  { id: 'bob', password: 'bob', email: 'bob@example.com', name: 'Bob Example', groups: ['sales'] },
  { id: 'admin', password: 'admin', email: 'security@example.com', name: 'Security Admin', groups: [ADMIN_GROUP] },
];

export function findAccountIn(accounts: readonly FakeAccount[]) {
  return async (_ctx: unknown, sub: string): Promise<OidcAccount | undefined> => {
    const account = accounts.find((a) => a.id === sub);
    if (!account) return undefined;
    return {
      accountId: account.id,
      // oidc-provider filters these by the granted scopes and the `claims` configuration.
      claims: () => ({
        sub: account.id,
        ...(account.email ? { email: account.email, email_verified: true } : {}),
        ...(account.name ? { name: account.name, preferred_username: account.id } : {}),
        groups: account.groups ?? [],
      }),
    };
  };
}

const same = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

async function readForm(ctx: KoaContextWithOIDC): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of ctx.req) {
    size += (chunk as Buffer).length;
    if (size > 16 * 1024) throw new Error('login form too large');
    chunks.push(chunk as Buffer);
  }
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/**
 * oidc-provider's devInteractions accept any login with any password. This
 * handles the login form's POST itself: a wrong password shows the login page
 * again; a right one finishes the login prompt exactly as devInteractions would.
 */
export function passwordLogin(provider: Provider, accounts: readonly FakeAccount[]): Middleware {
  return async (ctx, next) => {
    if (ctx.method !== 'POST' || !/^\/interaction\/[^/]+$/.test(ctx.path)) return next();
    // Decided from the interaction (cookie), so other prompts' bodies stay unread for oidc-provider.
    const interaction = await provider.interactionDetails(ctx.req, ctx.res).catch(() => undefined);
    if (interaction?.prompt.name !== 'login') return next();
    const form = await readForm(ctx);
    const account = accounts.find((a) => a.id === form.get('login'));
    if (!account || !same(account.password, form.get('password') ?? '')) {
      ctx.status = 303;
      ctx.redirect(ctx.path);
      return;
    }
    ctx.respond = false;
    await provider.interactionFinished(ctx.req, ctx.res, { login: { accountId: account.id } }, { mergeWithLastSubmission: false });
  };
}

/**
 * `loadExistingGrant`. With `autoConsent` it consents on the user's behalf (the
 * organisation's own IdP asks nobody whether the vault may sign them in).
 * Without it the dev consent page is shown for every authorization and
 * approved by clicking its submit button.
 */
export function loadGrant(autoConsent: boolean) {
  return async (ctx: KoaContextWithOIDC): Promise<OidcGrant | undefined> => {
    const { oidc } = ctx;
    const clientId = oidc.client?.clientId;
    const accountId = oidc.account?.accountId;
    if (!clientId || !accountId) return undefined;
    // A provider that asks for consent makes every approval its own grant, as Salesforce does
    // (separate approvals, each revocable): never the session's earlier grant, which a re-link
    // would otherwise share with the grant it replaces and then revoke along with it.
    const consented = oidc.result?.consent?.grantId;
    if (!autoConsent) return consented ? oidc.provider.Grant.find(consented) : undefined;
    const grantId = consented ?? oidc.session?.grantIdFor(clientId);
    let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    grant ??= new oidc.provider.Grant({ accountId, clientId });
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    grant.addOIDCClaims([...oidc.requestParamClaims]);
    await grant.save();
    return grant;
  };
}
