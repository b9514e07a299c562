/**
 * Walks a fake provider's dev login and consent pages with plain fetch and a
 * cookie jar, the way a browser would, until the provider redirects to the
 * client's redirect URI. Enough for protocol tests; e2e tests use Chromium.
 */

export interface LoginFlowOptions {
  login: string;
  password: string;
  /** Where the flow ends: the first redirect to a URL starting with this. */
  redirectUri: string;
  /** Click "Continue" on the consent page when it is shown (default true). */
  consent?: boolean;
}

export interface LoginFlowResult {
  /** The redirect to the client, with `code`, `state` and `iss` (or `error`). */
  callbackUrl: URL;
  /** Pages seen on the way, by kind, e.g. ['login', 'consent']. */
  pages: string[];
}

class CookieJar {
  private readonly cookies = new Map<string, string>();

  store(response: Response): void {
    for (const line of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      const expired = attributes.some((a) => /^\s*expires=Thu, 01 Jan 1970/i.test(a)) || value === '';
      if (expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function formAction(html: string, base: URL): URL {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  if (!action) throw new Error('no form on the page');
  return new URL(action.replace(/&amp;/g, '&'), base);
}

export async function runLoginFlow(authorizationUrl: URL, options: LoginFlowOptions): Promise<LoginFlowResult> {
  const jar = new CookieJar();
  const pages: string[] = [];
  let next: { url: URL; init: RequestInit } = { url: authorizationUrl, init: { method: 'GET' } };
  for (let step = 0; step < 20; step++) {
    const response = await fetch(next.url, {
      ...next.init,
      redirect: 'manual',
      headers: { cookie: jar.header(), ...(next.init.headers as Record<string, string>) },
    });
    jar.store(response);
    const location = response.headers.get('location');
    if (location) {
      await response.body?.cancel();
      const target = new URL(location, next.url);
      if (target.href.startsWith(options.redirectUri)) return { callbackUrl: target, pages };
      next = { url: target, init: { method: 'GET' } };
      continue;
    }
    const html = await response.text();
    if (response.status !== 200) throw new Error(`login flow: HTTP ${response.status} at ${next.url.pathname}`);
    const action = formAction(html, next.url);
    const form = new URLSearchParams();
    if (html.includes('name="password"')) {
      pages.push('login');
      form.set('prompt', 'login');
      form.set('login', options.login);
      form.set('password', options.password);
    } else if (html.includes('value="consent"')) {
      pages.push('consent');
      if (options.consent === false) return { callbackUrl: await abort(next.url, jar, options.redirectUri), pages };
      form.set('prompt', 'consent');
    } else {
      throw new Error('login flow: unexpected page');
    }
    next = { url: action, init: { method: 'POST', body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } } };
    if (pages.filter((p) => p === 'login').length > 1) throw new Error('login flow: login rejected');
  }
  throw new Error('login flow: too many steps');
}

/** The dev interaction's abort link: the user declined consent. */
async function abort(interactionUrl: URL, jar: CookieJar, redirectUri: string): Promise<URL> {
  let url = new URL(`${interactionUrl.pathname}/abort`, interactionUrl);
  for (let step = 0; step < 5; step++) {
    const response = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.store(response);
    await response.body?.cancel();
    const location = response.headers.get('location');
    if (!location) break;
    url = new URL(location, url);
    if (url.href.startsWith(redirectUri)) return url;
  }
  throw new Error('login flow: abort did not redirect to the client');
}
