/**
 * What an exchange asks for: one provider and exactly one of its operations,
 * from `scope` or from a single RFC 9396 `authorization_details` entry, with
 * `resource`/`audience` (RFC 8707 / RFC 8693 §2.1) naming the same provider.
 */
import { InvalidRequest, InvalidScope, InvalidTarget, assert } from '../errors.js';
import type { Operation, Provider, ProviderCatalog } from '../providers/catalog.js';
import { authorizationDetail, type AuthorizationDetail } from '../tokens/token-types.js';
import type { ExchangeRequest } from './request.js';

export interface ExchangeTarget {
  provider: Provider;
  operation: Operation;
  /** The one authorization_details entry, when the operation was requested that way. */
  detail?: AuthorizationDetail;
}

const trim = (url: string) => url.replace(/\/+$/, '');

function providerOf(catalog: ProviderCatalog, value: string): Provider | undefined {
  const byId = catalog.provider(value);
  if (byId) return byId;
  const url = trim(value);
  return catalog.list().find((p) => p.apiBase.from === 'config' && p.apiBase.url === url);
}

function parseDetail(raw: NonNullable<ExchangeRequest['authorization_details']>): AuthorizationDetail {
  let list: unknown = raw;
  if (typeof raw === 'string') {
    try {
      list = JSON.parse(raw);
    } catch {
      throw new InvalidRequest('authorization_details: not JSON').because('authorization_details is not JSON');
    }
  }
  assert(Array.isArray(list) && list.length === 1, () =>
    new InvalidRequest('authorization_details: exactly one entry required').because('authorization_details must hold exactly one entry'),
  );
  const parsed = authorizationDetail.safeParse(list[0]);
  assert(parsed.success, () => new InvalidRequest('authorization_details: malformed entry').because('authorization_details entry is malformed'));
  return parsed.data;
}

export function resolveTarget(catalog: ProviderCatalog, request: ExchangeRequest): ExchangeTarget {
  const { scope, authorization_details: details, resource, audience } = request;
  if (scope !== undefined && details !== undefined)
    throw new InvalidRequest('both scope and authorization_details').because('scope and authorization_details are exclusive');
  if (scope === undefined && details === undefined) throw new InvalidRequest('no operation requested').because('scope or authorization_details is required');

  let requested: Provider | undefined;
  for (const value of [resource, audience]) {
    if (value === undefined) continue;
    const provider = providerOf(catalog, value);
    if (!provider) throw new InvalidTarget('unknown resource or audience').because('resource or audience names no provider');
    if (requested && requested !== provider)
      throw new InvalidTarget('resource and audience name different providers').because('resource and audience name different providers');
    requested = provider;
  }

  let operation: Operation | undefined;
  let detail: AuthorizationDetail | undefined;
  if (details !== undefined) {
    detail = parseDetail(details);
    const typed = catalog.provider(detail.type);
    assert(typed, () => new InvalidTarget('authorization_details type is not a provider').because('authorization_details type names no provider'));
    assert(!requested || requested === typed, () =>
      new InvalidTarget('authorization_details type differs from resource').because('authorization_details type differs from resource or audience'),
    );
    requested = typed;
    const action = detail.actions[0]!;
    operation = catalog.operation(action.includes(':') ? action : `${typed.id}:${action}`);
    if (!operation) throw new InvalidScope('unknown operation').because('authorization_details action names no operation of this provider');
  } else {
    operation = catalog.operation(scope!);
  }
  if (!operation) throw new InvalidScope('unknown operation').because('scope names no operation of this provider');
  const provider = requested ?? catalog.provider(operation.provider);
  if (!provider || provider.id !== operation.provider)
    throw new InvalidTarget('operation does not belong to the requested provider').because('operation does not belong to the requested provider');
  return { provider, operation, ...(detail ? { detail } : {}) };
}
