/**
 * The pages. Plain HTML forms that work without JavaScript: labelled controls,
 * fieldsets with legends, one h1 per page, a skip link, a viewport meta tag
 * and a stylesheet with AA contrast (see pages-css.ts).
 */
import type { Agent, Operation, Provider } from '../../providers/catalog.js';
import type { ConsentAsk } from '../consent-service.js';
import type { Grant, GrantTombstone } from '../../store/grant-store.js';
import { HISTORY_LIMIT, type AgentAccess, type GrantUse } from '../grant-history.js';
import { agentAccessTable, historyTable } from './history-view.js';
import { html, type Html } from './html.js';
import { limits, requestBlock } from './request-view.js';

export interface Viewer {
  displayName: string;
  csrfToken: string;
}

export type ProviderStatus = 'not_linked' | 'active' | 'consent_required' | 'integrity_error' | 'revoked';

const STATUS_LABEL: Record<ProviderStatus, string> = {
  not_linked: 'Not linked',
  active: 'Active',
  consent_required: 'Needs re-consent',
  integrity_error: 'Needs re-linking',
  revoked: 'Revoked',
};

export const RESULTS = {
  linked: 'Account linked. Choose below what each agent may do with it.',
  relinked: 'Account linked again. The previous link was replaced and its access revoked at the provider.',
  consent_saved: 'Your choices were saved.',
  relinked_saved: 'Account linked again with the extra access your choices need, and your choices were saved. The previous link was revoked at the provider.',
  approved: 'Approved. The agent may now do what it asked for, within the limits shown.',
  relinked_approved: 'Account linked again with the extra access this needs, and the request was approved. The previous link was revoked at the provider.',
  denied: 'Denied. Nothing was changed: the agent was not given access.',
  scopes_refused: 'The provider did not grant the access this needs, so nothing was changed. You can try again.',
  agent_revoked: 'That agent can no longer use this account. Other agents keep the access you gave them.',
  unlinked: 'Account unlinked. The provider confirmed that the vault’s access was revoked.',
  unlinked_local: 'Account unlinked here. This provider offers no revocation endpoint: also remove the app in your account settings at the provider.',
  unlink_pending: 'Account unlinked here; agents can no longer use it. The provider did not confirm the revocation yet — the vault keeps retrying.',
  signed_out: 'You are signed out.',
} as const;
export type Result = keyof typeof RESULTS;

export function layout(title: string, body: Html, viewer?: Viewer): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} — Token Vault</title>
<link rel="stylesheet" href="/assets/pages.css">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="top">
<a class="brand" href="/connections">Token Vault</a>
${
  viewer
    ? html`<form method="post" action="/logout" class="inline"><span class="who">${viewer.displayName}</span>
<input type="hidden" name="_csrf" value="${viewer.csrfToken}"><button type="submit" class="link">Sign out</button></form>`
    : ''
}
</header>
<main id="main">
<h1>${title}</h1>
${body}
</main>
</body>
</html>
`.value;
}

export function errorPage(title: string, message: string, signedIn: boolean): string {
  return layout(
    title,
    html`<p class="notice error" role="alert">${message}</p>
<p><a href="${signedIn ? '/connections' : '/login'}">${signedIn ? 'Back to your connections' : 'Sign in'}</a></p>`,
  );
}

export function signedOutPage(): string {
  return layout('Signed out', html`<p class="notice" role="status">${RESULTS.signed_out}</p><p><a href="/login">Sign in again</a></p>`);
}

export function providerStatus(grants: Grant[]): ProviderStatus {
  if (grants.length === 0) return 'not_linked';
  for (const status of ['active', 'consent_required', 'integrity_error'] as const) if (grants.some((g) => g.status === status)) return status;
  return 'revoked';
}

const statusBadge = (status: ProviderStatus) => html`<span class="status status-${status}">${STATUS_LABEL[status]}</span>`;

/**
 * The security team revoked this connection (its latest tombstone, kept `grants.tombstoneRetentionDays`)
 * and nothing active replaced it: say when, and offer to link again.
 */
function securityRevocation(grants: Grant[], tombstones: GrantTombstone[] | undefined, again: Html): Html | '' {
  if (grants.some((g) => g.status === 'active')) return '';
  const latest = (tombstones ?? []).filter((t) => t.revokedByRole === 'admin').sort((a, b) => b.revokedAt - a.revokedAt)[0];
  if (!latest) return '';
  return html`<div class="notice security-revoked" role="status"><p>This connection was revoked by your security team on ${new Date(latest.revokedAt).toISOString().slice(0, 10)}. You can link the account again.</p>${again}</div>`;
}

/** The connections page's pointer to requests awaiting approval (approvals-view.ts). */
const approvalsBadge = (count: number): Html | '' =>
  count > 0
    ? html`<p class="notice badge" role="status"><a href="/approvals">${count === 1 ? '1 request waits' : `${count} requests wait`} for your approval</a></p>`
    : '';

export function connectionsPage(
  viewer: Viewer,
  providers: Array<{ provider: Provider; grants: Grant[]; tombstones?: GrantTombstone[] }>,
  pendingApprovals = 0,
): string {
  const items = providers.map(
    ({ provider, grants, tombstones }) => html`<li>
<h2><a href="/connections/${encodeURIComponent(provider.id)}">${provider.displayName}</a></h2>
<p>Status: ${statusBadge(providerStatus(grants))}</p>
${securityRevocation(grants, tombstones, html`<p><a href="/connections/${encodeURIComponent(provider.id)}">Link again</a></p>`)}
</li>`,
  );
  const body = providers.length
    ? html`<p>Accounts you can link so that agents act for you without holding your password or tokens.</p><ul class="cards">${items}</ul>`
    : html`<p>No providers are configured.</p>`;
  return layout('Your connections', html`${approvalsBadge(pendingApprovals)}${body}`, viewer);
}

export interface ProviderPageModel {
  viewer: Viewer;
  provider: Provider;
  grants: Grant[];
  /** Agents with any operation of this provider in their admin ceiling, with those operations. */
  agents: Array<{ agent: Agent; operations: Operation[] }>;
  /** Deep link: what an agent asked for, answered with Approve or Deny (never pre-ticked). */
  request?: ConsentAsk;
  /** Per grant id: the agents holding consent and the recent uses (grant-history.ts). */
  activity: ReadonlyMap<string, { agents: AgentAccess[]; uses: GrantUse[] }>;
  result?: Result;
  /** This user's tombstones of this provider (retired grants). */
  tombstones?: GrantTombstone[];
}

const hidden = (name: string, value: string | undefined) => (value ? html`<input type="hidden" name="${name}" value="${value}">` : '');

function linkForm(model: ProviderPageModel, label: string): Html {
  const { viewer, provider, request } = model;
  return html`<form method="post" action="/connections/${encodeURIComponent(provider.id)}/link">
<input type="hidden" name="_csrf" value="${viewer.csrfToken}">${hidden('agent', request?.agent.id)}${hidden('operation', request?.operation.name)}
<button type="submit">${label}</button></form>`;
}

function consentForm(model: ProviderPageModel, grant: Grant): Html {
  const { viewer, provider, agents } = model;
  if (agents.length === 0) return html`<p>No agent may use this provider yet.</p>`;
  const fieldsets = agents.map(({ agent, operations }, a) => {
    const chosen = new Set(grant.consent[agent.id] ?? []);
    const boxes = operations.map((op, o) => {
      const id = `c-${grant.id}-${a}-${o}`;
      return html`<div class="check"><input type="checkbox" id="${id}" name="consent" value="${op.name} ${agent.id}"${chosen.has(op.name) ? html` checked` : ''}>
<label for="${id}">${op.description} <span class="op">${op.name}</span><br>${limits(op, provider)}</label></div>`;
    });
    return html`<fieldset><legend>${agent.displayName} <span class="op">${agent.id}</span></legend>${boxes}</fieldset>`;
  });
  return html`<form method="post" action="/connections/${encodeURIComponent(provider.id)}/consent">
<input type="hidden" name="_csrf" value="${viewer.csrfToken}"><input type="hidden" name="grant" value="${grant.id}">
<h3>What agents may do</h3>${fieldsets}
<button type="submit">Save choices</button></form>`;
}

/** A quarantined grant (its stored secret failed an integrity check) is never used again: the user links again. */
const integrityNotice = (model: ProviderPageModel, status: ProviderStatus) =>
  status === 'integrity_error'
    ? html`<p class="notice">This link needs re-linking: the vault could not verify its stored credentials, so no agent can use it. Link the account again.</p>${linkForm(model, 'Link again')}`
    : '';

function grantSection(model: ProviderPageModel, grant: Grant): Html {
  const { viewer, provider } = model;
  const activity = model.activity.get(grant.id);
  const status: ProviderStatus = grant.status;
  // A link to the confirmation page, so unlinking asks first without JavaScript too.
  const unlink = html`<p><a class="button danger" href="/connections/${encodeURIComponent(provider.id)}/unlink?${new URLSearchParams({ grant: grant.id }).toString()}">Unlink this account</a></p>`;
  return html`<section class="grant" aria-label="Linked account">
<h2>Linked account</h2>
<dl>
<dt>Status</dt><dd>${statusBadge(status)}</dd>
<dt>Account</dt><dd class="op">${grant.upstreamSubject}</dd>
${grant.instanceUrl ? html`<dt>Instance</dt><dd class="op">${grant.instanceUrl}</dd>` : ''}
<dt>Linked</dt><dd>${new Date(grant.createdAt).toISOString().slice(0, 16).replace('T', ' ')} UTC</dd>
</dl>
${integrityNotice(model, status)}
${
  status === 'revoked'
    ? html`<p>This link is revoked. The vault is still confirming the revocation with the provider.</p>`
    : html`${status === 'consent_required' ? html`<p class="notice">The provider no longer accepts this link. Link the account again.</p>${linkForm(model, 'Link again')}` : ''}
${agentAccessTable(grant, activity?.agents ?? [], `/connections/${encodeURIComponent(provider.id)}/revoke-agent`, viewer.csrfToken)}
${consentForm(model, grant)}${unlink}`
}
${historyTable(activity?.uses ?? [], HISTORY_LIMIT)}
</section>`;
}

export function providerPage(model: ProviderPageModel): string {
  const { provider, grants, request, result } = model;
  const status = providerStatus(grants);
  const body = html`${result ? html`<p class="notice ok" role="status">${RESULTS[result]}</p>` : ''}
${request ? requestBlock(provider, request, model.viewer.csrfToken) : ''}
<p>Status: ${statusBadge(status)}</p>
${securityRevocation(grants, model.tombstones, grants.length === 0 ? html`` : linkForm(model, 'Link again'))}
${grants.map((g) => grantSection(model, g))}
${grants.length === 0 ? linkForm(model, `Link your ${provider.displayName} account`) : ''}
<p><a href="/connections">All connections</a></p>`;
  return layout(provider.displayName, body, model.viewer);
}

/** The unlink confirmation: only its POST unlinks; Cancel goes back unchanged. */
export function unlinkConfirmPage(viewer: Viewer, provider: Provider, grant: Grant): string {
  const base = `/connections/${encodeURIComponent(provider.id)}`;
  const body = html`<p>This revokes the vault’s access to your ${provider.displayName} account <span class="op">${grant.upstreamSubject}</span> at ${provider.displayName}.
Every agent loses access at once, and the choices you made for them are deleted. You can link the account again later.</p>
<div class="actions"><form method="post" action="${base}/unlink" class="inline">
<input type="hidden" name="_csrf" value="${viewer.csrfToken}"><input type="hidden" name="grant" value="${grant.id}">
<button type="submit" class="danger">Confirm</button></form>
<a class="button secondary" href="${base}">Cancel</a></div>`;
  return layout(`Unlink ${provider.displayName}?`, body, viewer);
}
