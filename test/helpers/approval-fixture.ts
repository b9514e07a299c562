/** Exchanges and polls for operations that need approval (src/approvals/), as a gateway sends them. */
import { createHash } from 'node:crypto';
import { AGENT_A, JWT_TYPE, exchangeParams, type ExchangeVault } from './exchange-fixture.js';
import { call, type ClientCert, type Response } from './https-client.js';

export const GRANT_TYPE_CIBA = 'urn:openid:params:grant-type:ciba';

export const sha256 = (body: string | Buffer) => createHash('sha256').update(body).digest('base64url');

export interface Action {
  method: string;
  path: string;
  body: string;
  summary?: string;
}

/** The exchange parameters asking for `operation` bound to `action` (RFC 9396 entry with method, path, body digest). */
export async function approvalParams(
  vault: ExchangeVault,
  operation: string,
  action: Action,
  user = 'alice',
  agent = AGENT_A,
): Promise<Record<string, string>> {
  const { scope: _scope, ...params } = await exchangeParams(vault.ids, user, agent);
  const detail = {
    type: 'crm',
    actions: [operation],
    method: action.method,
    path: action.path,
    body_sha256: sha256(action.body),
    ...(action.summary !== undefined && { summary: action.summary }),
  };
  return { ...params, authorization_details: JSON.stringify([detail]) };
}

/** POST /exchange with `params` on the gateway certificate, at `internalUrl` (another vault process sharing the Redis). */
export function exchangeAt(vault: ExchangeVault, internalUrl: string, params: Record<string, string>): Promise<Response> {
  return call(`${internalUrl}/exchange`, {
    method: 'POST',
    ca: vault.pki.ca,
    client: vault.pki.gateway,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(params).toString(),
  });
}

/** A CIBA poll (OpenID CIBA Core 1.0 §10.1) with the user's and agent's tokens, on `client` (default: the gateway). */
export async function poll(
  vault: ExchangeVault,
  authReqId: string,
  options: { user?: string; agent?: string; client?: ClientCert; internalUrl?: string } = {},
): Promise<Response> {
  const { user = 'alice', agent = AGENT_A, client = vault.pki.gateway, internalUrl = vault.internalUrl } = options;
  const body = new URLSearchParams({
    grant_type: GRANT_TYPE_CIBA,
    auth_req_id: authReqId,
    subject_token: await vault.ids.userToken(user),
    subject_token_type: JWT_TYPE,
    actor_token: await vault.ids.agentToken(agent),
    actor_token_type: JWT_TYPE,
  }).toString();
  return call(`${internalUrl}/exchange`, {
    method: 'POST',
    ca: vault.pki.ca,
    client,
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body,
  });
}
