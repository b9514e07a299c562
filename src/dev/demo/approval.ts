/**
 * The demo gateway's side of an operation that needs approval (src/approvals/): the exchange
 * names the exact request (method, path, SHA-256 of the body) in its RFC 9396 entry; the vault
 * answers `authorization_pending` with an `auth_req_id`; the user approves on the consent site;
 * the gateway polls with the OpenID CIBA grant type every `interval` seconds until the token,
 * `access_denied` or `expired_token`.
 */
import { createHash } from 'node:crypto';
import type { Answer, DemoGateway } from './gateway.js';

const CIBA = 'urn:openid:params:grant-type:ciba';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';

/** The RFC 9396 entry binding the operation to one request. */
export function boundDetail(scope: string, method: string, path: string, body: string | undefined): string {
  const [type, action] = scope.split(':') as [string, string];
  const digest = createHash('sha256')
    .update(body ?? '')
    .digest('base64url');
  const summary = `${method} ${path}${body !== undefined ? ` with ${body}` : ''}`.slice(0, 200);
  return JSON.stringify([{ type, actions: [action], method, path, body_sha256: digest, summary }]);
}

/** Whether the vault asks for the bound form (the operation needs approval). */
export function needsBoundAction(answer: Answer): boolean {
  const body = answer.json as { error?: unknown; error_description?: unknown } | undefined;
  return body?.error === 'invalid_request' && typeof body.error_description === 'string' && body.error_description.startsWith('approval needs');
}

/** Polls a pending request until it is decided; the last answer (the token, or the refusal). */
export async function awaitApproval(
  gateway: DemoGateway,
  pending: Answer,
  identity: { userToken: string; agentToken: string },
  approvalsUrl: string,
  out: (line?: string) => void,
): Promise<Answer> {
  const {
    auth_req_id: authReqId,
    interval = 5,
    expires_in: expiresIn = 600,
  } = (pending.json ?? {}) as { auth_req_id?: string; interval?: number; expires_in?: number };
  if (typeof authReqId !== 'string') return pending;
  out('  The operation needs the user’s approval. Open this page in the browser where you signed in,');
  out('  check the request (method, path, body digest, summary) and approve or deny it:');
  out('');
  out(`    ${approvalsUrl}`);
  out('');
  out(`  Polling every ${interval} s (OpenID CIBA poll mode) for at most ${expiresIn} s:`);
  const form = new URLSearchParams({
    grant_type: CIBA,
    auth_req_id: authReqId,
    subject_token: identity.userToken,
    subject_token_type: JWT_TYPE,
    actor_token: identity.agentToken,
    actor_token_type: JWT_TYPE,
  }).toString();
  const headers = { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, interval * 1000));
    const answer = await gateway.sendBrief('POST', '/exchange', headers, form);
    const error = (answer.json as { error?: unknown } | undefined)?.error;
    if (error !== 'authorization_pending' && error !== 'slow_down') {
      out('');
      return answer;
    }
  }
}
