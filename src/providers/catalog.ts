/**
 * The resolved provider catalog and agent registry: endpoints derived from
 * each kind's template, operations indexed by full name, and the admin ceiling.
 */
import type { AgentConfig, OperationConfig, ProviderConfig } from './schema.js';

export type ProviderKind = ProviderConfig['kind'];

export interface Operation extends OperationConfig {
  /** `<provider>:<operation>`, the name agents request in `scope`. */
  name: string;
  provider: string;
  /** The operation's name within its provider. */
  local: string;
}

export interface ProviderEndpoints {
  /** Set for `oidc`: endpoints come from discovery at first use. */
  issuer?: string;
  authorization?: string;
  token?: string;
  revocation?: string;
  introspection?: string;
}

export interface Provider {
  id: string;
  kind: ProviderKind;
  displayName: string;
  clientId: string;
  clientSecretFile?: string;
  scopes: string[];
  endpoints: ProviderEndpoints;
  /** Where the API lives: a fixed base, or the grant's `instance_url` (Salesforce), on one of `hosts`. */
  apiBase: { from: 'config'; url: string } | { from: 'grant'; hosts: readonly string[] };
  /** Lifetime to assume when a token response has no `expires_in`. */
  defaultAccessTokenLifetimeSeconds: number;
  allowPrivateNetwork: boolean;
  timeoutMs: number;
  operations: ReadonlyMap<string, Operation>;
}

export interface Agent extends AgentConfig {
  id: string;
}

const trim = (url: string) => url.replace(/\/+$/, '');

/** Whether `hostname` is one of `hosts`: an exact name, or under a `.suffix` entry (case-insensitive). */
export function hostAllowed(hostname: string, hosts: readonly string[]): boolean {
  const host = hostname.toLowerCase();
  return hosts.some((entry) => {
    const allowed = entry.toLowerCase();
    return allowed.startsWith('.') ? host.endsWith(allowed) && host.length > allowed.length : host === allowed;
  });
}

function endpointsOf(config: ProviderConfig): { endpoints: ProviderEndpoints; apiBase: Provider['apiBase']; lifetime: number } {
  switch (config.kind) {
    case 'salesforce': {
      const base = `${trim(config.loginUrl)}/services/oauth2`;
      return {
        endpoints: {
          authorization: `${base}/authorize`,
          token: `${base}/token`,
          revocation: `${base}/revoke`,
          introspection: `${base}/introspect`,
        },
        apiBase: { from: 'grant', hosts: config.instanceHosts },
        lifetime: config.sessionLifetimeSeconds,
      };
    }
    case 'servicenow': {
      const base = trim(config.instanceUrl);
      return {
        endpoints: { authorization: `${base}/oauth_auth.do`, token: `${base}/oauth_token.do`, revocation: `${base}/oauth_revoke_token.do` },
        apiBase: { from: 'config', url: base },
        lifetime: config.accessTokenLifetimeSeconds,
      };
    }
    case 'oauth2':
      return {
        endpoints: {
          authorization: config.authorizationEndpoint,
          token: config.tokenEndpoint,
          ...(config.revocationEndpoint ? { revocation: config.revocationEndpoint } : {}),
          ...(config.introspectionEndpoint ? { introspection: config.introspectionEndpoint } : {}),
        },
        apiBase: { from: 'config', url: trim(config.apiBaseUrl) },
        lifetime: config.accessTokenLifetimeSeconds,
      };
    case 'oidc':
      return {
        endpoints: { issuer: trim(config.issuer) },
        apiBase: { from: 'config', url: trim(config.apiBaseUrl) },
        lifetime: config.accessTokenLifetimeSeconds,
      };
  }
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
}

export class ProviderCatalog {
  private readonly providers = new Map<string, Provider>();
  private readonly operations = new Map<string, Operation>();
  private readonly agents = new Map<string, Agent>();

  constructor(providers: Record<string, ProviderConfig>, agents: Record<string, AgentConfig>) {
    for (const [id, config] of Object.entries(providers)) {
      const { endpoints, apiBase, lifetime } = endpointsOf(config);
      const ops = new Map<string, Operation>();
      for (const [local, op] of Object.entries(config.operations)) {
        const operation = { ...op, name: `${id}:${local}`, provider: id, local };
        ops.set(local, operation);
        this.operations.set(operation.name, operation);
      }
      this.providers.set(id, {
        id,
        kind: config.kind,
        displayName: config.displayName,
        clientId: config.clientId,
        ...(config.clientSecretFile ? { clientSecretFile: config.clientSecretFile } : {}),
        scopes: config.scopes,
        endpoints,
        apiBase,
        defaultAccessTokenLifetimeSeconds: lifetime,
        allowPrivateNetwork: config.allowPrivateNetwork,
        timeoutMs: config.timeoutMs,
        operations: ops,
      });
    }
    for (const [id, agent] of Object.entries(agents)) this.agents.set(id, { ...agent, id });
  }

  /** Problems a config can only show once providers and agents are seen together. */
  static problems(providers: Record<string, ProviderConfig>, agents: Record<string, AgentConfig>): string[] {
    const problems: string[] = [];
    for (const [id, config] of Object.entries(providers)) {
      const { endpoints, apiBase } = endpointsOf(config);
      const urls: Array<[string, string | undefined]> = Object.entries(endpoints);
      if (apiBase.from === 'config') urls.push(['apiBaseUrl', apiBase.url]);
      for (const [name, url] of urls) {
        if (!url) continue;
        const parsed = new URL(url);
        if (parsed.protocol === 'http:' && !(config.allowPrivateNetwork && isLoopbackHost(parsed.hostname))) {
          problems.push(`providers.${id}: ${name} must be https (plain http only for loopback with allowPrivateNetwork)`);
        }
      }
      for (const [local, op] of Object.entries(config.operations)) {
        const extra = op.scopes.filter((s) => !config.scopes.includes(s));
        if (extra.length > 0) problems.push(`providers.${id}.operations.${local}.scopes: not requested by the provider: ${extra.join(', ')}`);
      }
    }
    for (const [id, agent] of Object.entries(agents)) {
      for (const name of agent.operations) {
        const [provider, local] = name.split(':') as [string, string];
        if (!providers[provider]?.operations[local]) problems.push(`agents.${id}.operations: unknown operation ${name}`);
      }
    }
    return problems;
  }

  provider(id: string): Provider | undefined {
    return this.providers.get(id);
  }

  list(): Provider[] {
    return [...this.providers.values()];
  }

  /** An operation by full name (`salesforce:records.read`). */
  operation(name: string): Operation | undefined {
    return this.operations.get(name);
  }

  agent(id: string): Agent | undefined {
    return this.agents.get(id);
  }

  listAgents(): Agent[] {
    return [...this.agents.values()];
  }

  /** The admin ceiling: may this agent ever perform this operation? */
  ceilingAllows(agentId: string, operation: string): boolean {
    return this.agents.get(agentId)?.operations.includes(operation) ?? false;
  }

  /** Operations of one provider an agent may ever perform (for consent checkboxes). */
  ceilingFor(agentId: string, providerId: string): Operation[] {
    const agent = this.agents.get(agentId);
    if (!agent) return [];
    return agent.operations.map((n) => this.operations.get(n)).filter((op): op is Operation => op?.provider === providerId);
  }
}
