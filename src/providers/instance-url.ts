/**
 * The one rule for a grant's `instance_url` (Salesforce sends it in every token response): it names
 * where the grant's upstream token goes, so it must be one of the provider's own hosts. Checked when
 * a grant is linked (nothing off-list is stored), before an exchange releases the raw upstream token
 * with it, and at /forward before the token is sent there.
 */
import { hostAllowed, type Provider } from './catalog.js';

/**
 * The API base `instanceUrl` names, or null when the provider's token may not go there: not https
 * (http only for a provider allowed on private networks), carrying credentials, a query or a
 * fragment, or a host off the provider's list (`instanceHosts`; for a provider with a configured
 * API base, that base's own host).
 */
export function allowedInstanceUrl(provider: Provider, instanceUrl: string): URL | null {
  let url: URL;
  try {
    url = new URL(instanceUrl);
  } catch {
    return null;
  }
  const scheme = url.protocol === 'https:' || (url.protocol === 'http:' && provider.allowPrivateNetwork);
  if (!scheme || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return null;
  const hosts = provider.apiBase.from === 'grant' ? provider.apiBase.hosts : [new URL(provider.apiBase.url).hostname];
  return hostAllowed(url.hostname, hosts) ? url : null;
}
