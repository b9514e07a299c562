/**
 * The approvals page: the requests waiting for this user's decision, each with the agent, the
 * operation, the exact action (method, path, body digest), the agent's own summary, its age and
 * expiry, and Approve / Deny forms (POST with the CSRF token).
 *
 * The summary is the agent's text, so it is hostile: it is rendered as escaped text (html.ts),
 * and control, format and bidirectional characters, which could hide or reorder what the
 * approver reads (Unicode TR 9, TR 36 §2.2), are shown as U+FFFD instead.
 */
import type { Agent, Operation } from '../../providers/catalog.js';
import type { ApprovalRecord } from '../../store/approval-store.js';
import { html, type Html } from './html.js';
import { layout, type Viewer } from './views.js';

export interface ApprovalItem {
  record: ApprovalRecord;
  agent: Agent | undefined;
  operation: Operation | undefined;
}

export const APPROVAL_RESULTS = {
  approved: 'Approved. The agent may now make exactly that request, once.',
  denied: 'Denied. The agent was told no.',
  expired: 'That request has expired; nothing was changed.',
  already_decided: 'That request was already decided; nothing was changed.',
  unknown: 'That request is not waiting for you; nothing was changed.',
} as const;
export type ApprovalResult = keyof typeof APPROVAL_RESULTS;

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/g;

/** The agent's summary as plain, visible text. */
export const visibleText = (text: string) => text.replace(UNSAFE, '\ufffd');

function minutes(ms: number): string {
  const m = Math.max(0, Math.round(ms / 60_000));
  return m === 0 ? 'less than a minute' : m === 1 ? '1 minute' : `${m} minutes`;
}

function item({ record, agent, operation }: ApprovalItem, csrfToken: string, now: number): Html {
  const fields = html`<input type="hidden" name="_csrf" value="${csrfToken}">`;
  const base = `/approvals/${encodeURIComponent(record.id)}`;
  return html`<li class="approval">
<p><strong>${agent?.displayName ?? record.agent}</strong> <span class="op">${record.agent}</span> asks to:
<strong>${operation?.description ?? record.operation}</strong> <span class="op">${record.operation}</span></p>
<dl>
<dt>Request</dt><dd class="op action">${record.method} ${record.path}</dd>
<dt>Body SHA-256</dt><dd class="op">${record.bodySha256}</dd>
${record.summary !== undefined ? html`<dt>The agent says</dt><dd class="summary">${visibleText(record.summary)}</dd>` : ''}
<dt>Asked</dt><dd>${minutes(now - record.createdAt)} ago</dd>
<dt>Expires</dt><dd>in ${minutes(record.expiresAt - now)}</dd>
</dl>
<div class="actions"><form method="post" action="${base}/approve" class="inline">${fields}<button type="submit">Approve</button></form>
<form method="post" action="${base}/deny" class="inline">${fields}<button type="submit" class="secondary">Deny</button></form></div>
</li>`;
}

export function approvalsPage(viewer: Viewer, items: ApprovalItem[], now: number, result?: ApprovalResult): string {
  const body = html`${result ? html`<p class="notice ok" role="status">${APPROVAL_RESULTS[result]}</p>` : ''}
<p>Agents ask here before they make a request that needs your approval. Approving allows that one request, once.</p>
${items.length ? html`<ul class="cards">${items.map((i) => item(i, viewer.csrfToken, now))}</ul>` : html`<p>No request is waiting for you.</p>`}
<p><a href="/connections">Your connections</a></p>`;
  return layout('Approvals', body, viewer);
}
