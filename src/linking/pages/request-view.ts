/**
 * What an agent asks for on a deep link, and each operation's limits in
 * plain words. A request is never pre-ticked: the user answers it with
 * Approve or Deny (two POST forms with the CSRF token), and until then
 * nothing changes.
 */
import type { Operation, Provider } from '../../providers/catalog.js';
import type { ConsentAsk } from '../consent-service.js';
import { html, type Html } from './html.js';

function duration(seconds: number): string {
  if (seconds >= 120 && seconds % 60 === 0) return `${seconds / 60} minutes`;
  return seconds === 1 ? '1 second' : `${seconds} seconds`;
}

/** "Each time the agent asks: one call, valid for 60 seconds; your Salesforce token never leaves the vault" (catalog `uses`, `maxTtlSeconds`, `releaseUpstreamToken`). */
export function limitsText(op: Operation, provider: Provider): string {
  const calls = op.uses === 1 ? 'one call' : `${op.uses} calls`;
  const release = op.releaseUpstreamToken
    ? `the agent’s gateway may receive your ${provider.displayName} access token itself`
    : `your ${provider.displayName} token never leaves the vault`;
  return `Each time the agent asks: ${calls}, valid for ${duration(op.maxTtlSeconds)}; ${release}.`;
}

export const limits = (op: Operation, provider: Provider) => html`<span class="limits">${limitsText(op, provider)}</span>`;

/** The deep link's request with its Approve and Deny forms (or, when not linked yet, a pointer to the link button). */
export function requestBlock(provider: Provider, ask: ConsentAsk, csrfToken: string): Html {
  const base = `/connections/${encodeURIComponent(provider.id)}`;
  const fields = html`<input type="hidden" name="_csrf" value="${csrfToken}"><input type="hidden" name="agent" value="${ask.agent.id}">
<input type="hidden" name="operation" value="${ask.operation.name}">`;
  const deny = html`<form method="post" action="${base}/deny" class="inline">${fields}<button type="submit" class="secondary">Deny</button></form>`;
  let answer: Html;
  if (ask.granted) answer = html`<p role="status">${ask.agent.displayName} may already do this.</p>`;
  else if (!ask.grant)
    answer = html`<p>Link your ${provider.displayName} account below first; you then approve or deny this request here.</p><div class="actions">${deny}</div>`;
  else
    answer = html`${
      ask.missingScopes.length > 0
        ? html`<p>Approving takes you to ${provider.displayName} to link your account again, asking for this extra access: <span class="op">${ask.missingScopes.join(' ')}</span>.</p>`
        : ''
    }
<div class="actions"><form method="post" action="${base}/approve" class="inline">${fields}<input type="hidden" name="grant" value="${ask.grant.id}">
<button type="submit">Approve</button></form>
${deny}</div>`;
  return html`<section class="request" aria-labelledby="request-title">
<h2 id="request-title">An agent asks for access</h2>
<p><strong>${ask.agent.displayName}</strong> <span class="op">${ask.agent.id}</span> asks to:
<strong>${ask.operation.description}</strong> <span class="op">${ask.operation.name}</span></p>
<p>${limits(ask.operation, provider)}</p>
<p>Nothing changes until you choose.</p>
${answer}
</section>`;
}
