/**
 * Per-connection parts of the provider page: the agents that hold consent,
 * each with its own "Revoke" form, and the recent-use history. Tables have a
 * caption and column headers; every value goes through `html` (agent ids come
 * from tokens, so they are attacker-controlled text).
 */
import type { Grant } from '../../store/grant-store.js';
import type { AgentAccess, GrantUse } from '../grant-history.js';
import { html, type Html } from './html.js';

/** `2026-11-22 14:03:07 UTC` in a <time> element carrying the exact ISO value. */
function utc(iso: string): Html {
  return html`<time datetime="${iso}">${iso.slice(0, 19).replace('T', ' ')} UTC</time>`;
}

const agentCell = (agent: { id: string; displayName?: string }) =>
  agent.displayName ? html`${agent.displayName} <span class="op">${agent.id}</span>` : html`<span class="op">${agent.id}</span>`;

const operationText = (op: { name: string; description?: string }) =>
  op.description ? html`${op.description} <span class="op">${op.name}</span>` : html`<span class="op">${op.name}</span>`;

/** Agents that may use this connection now, each with a POST (CSRF) form that withdraws its consent. */
export function agentAccessTable(grant: Grant, agents: AgentAccess[], action: string, csrfToken: string): Html {
  if (agents.length === 0) return html`<h3>Agents with access</h3><p>No agent may use this account.</p>`;
  const rows = agents.map(
    (agent) => html`<tr><td>${agentCell(agent)}</td>
<td><ul class="plain">${agent.operations.map((op) => html`<li>${operationText(op)}</li>`)}</ul></td>
<td><form method="post" action="${action}"><input type="hidden" name="_csrf" value="${csrfToken}">
<input type="hidden" name="grant" value="${grant.id}"><input type="hidden" name="agent" value="${agent.id}">
<button type="submit" class="danger">Revoke <span class="vh">${agent.displayName ?? agent.id}</span></button></form></td></tr>`,
  );
  return html`<h3>Agents with access</h3>
<div class="table-wrap"><table class="agents">
<caption>Agents that may use this account. Revoking one leaves the others as they are.</caption>
<thead><tr><th scope="col">Agent</th><th scope="col">May</th><th scope="col">Action</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}

/** The recent uses, newest first; an explicit sentence when there are none. */
export function historyTable(uses: GrantUse[], limit: number): Html {
  if (uses.length === 0) return html`<h3>Recent use</h3><p>No agent has used this account recently.</p>`;
  const rows = uses.map(
    (use) => html`<tr><td>${utc(use.time)}</td><td>${agentCell(use.agent)}</td>
<td>${use.operation ? operationText(use.operation) : 'Unknown'}${use.request ? html`<br><span class="op">${use.request}</span>` : ''}</td>
<td>${use.outcome}</td></tr>`,
  );
  return html`<h3>Recent use</h3>
<div class="table-wrap"><table class="history">
<caption>Up to the ${limit} most recent uses of this account by agents, newest first.</caption>
<thead><tr><th scope="col">Time (UTC)</th><th scope="col">Agent</th><th scope="col">Operation</th><th scope="col">Outcome</th></tr></thead>
<tbody>${rows}</tbody></table></div>`;
}
