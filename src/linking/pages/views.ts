/**
 * The pages. Plain HTML forms that work without JavaScript: labelled controls,
 * fieldsets with legends, one h1 per page, a skip link, a viewport meta tag
 * and a stylesheet with AA contrast (see pages-css.ts).
 */
import type { Agent, Operation, Provider } from '../../providers/catalog.js';
import type { Grant } from '../../store/grant-store.js';
import { HISTORY_LIMIT, type AgentAccess, type GrantUse } from '../grant-history.js';
import { agentAccessTable, historyTable } from './history-view.js';
import { html, type Html } from './html.js';

export interface Viewer {
  displayName: string;
  csrfToken: string;
}

export type ProviderStatus = 'not_linked' | 'active' | 'consent_required' | 'revoked';

const STATUS_LABEL: Record<ProviderStatus, string> = {
  not_linked: 'Not linked',
  active: 'Active',
  consent_required: 'Needs re-consent',
  revoked: 'Revoked',
};

export const RESULTS = {
  linked: 'Account linked. Choose below what each agent may do with it.',
  relinked: 'Account linked again. The previous link was replaced and its access revoked at the provider.',
  consent_saved: 'Your choices were saved.',
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
  for (const status of ['active', 'consent_required'] as const) if (grants.some((g) => g.status === status)) return status;
  return 'revoked';
}

const statusBadge = (status: ProviderStatus) => html`<span class="status status-${status}">${STATUS_LABEL[status]}</span>`;

export function connectionsPage(viewer: Viewer, providers: Array<{ provider: Provider; grants: Grant[] }>): string {
  const items = providers.map(
    ({ provider, grants }) => html`<li>
<h2><a href="/connections/${encodeURIComponent(provider.id)}">${provider.displayName}</a></h2>
<p>Status: ${statusBadge(providerStatus(grants))}</p>
</li>`,
  );
  const body = providers.length
    ? html`<p>Accounts you can link so that agents act for you without holding your password or tokens.</p><ul class="cards">${items}</ul>`
    : html`<p>No providers are configured.</p>`;
  return layout('Your connections', body, viewer);
}

export interface ProviderPageModel {
  viewer: Viewer;
  provider: Provider;
  grants: Grant[];
  /** Agents with any operation of this provider in their admin ceiling, with those operations. */
  agents: Array<{ agent: Agent; operations: Operation[] }>;
  /** Deep link: what an agent asked for (pre-selected). */
  request?: { agent: Agent; operation: Operation };
  /** Per grant id: the agents holding consent and the recent uses (grant-history.ts). */
  activity: ReadonlyMap<string, { agents: AgentAccess[]; uses: GrantUse[] }>;
  result?: Result;
}

const hidden = (name: string, value: string | undefined) => (value ? html`<input type="hidden" name="${name}" value="${value}">` : '');

function linkForm(model: ProviderPageModel, label: string): Html {
  const { viewer, provider, request } = model;
  return html`<form method="post" action="/connections/${encodeURIComponent(provider.id)}/link">
<input type="hidden" name="_csrf" value="${viewer.csrfToken}">${hidden('agent', request?.agent.id)}${hidden('operation', request?.operation.name)}
<button type="submit">${label}</button></form>`;
}

function consentForm(model: ProviderPageModel, grant: Grant): Html {
  const { viewer, provider, agents, request } = model;
  if (agents.length === 0) return html`<p>No agent may use this provider yet.</p>`;
  const fieldsets = agents.map(({ agent, operations }, a) => {
    const chosen = new Set(grant.consent[agent.id] ?? []);
    const boxes = operations.map((op, o) => {
      const id = `c-${grant.id}-${a}-${o}`;
      const preselected = request?.agent.id === agent.id && request.operation.name === op.name;
      const checked = chosen.has(op.name) || preselected;
      return html`<div class="check${preselected ? ' asked' : ''}"><input type="checkbox" id="${id}" name="consent" value="${op.name} ${agent.id}"${checked ? html` checked` : ''}>
<label for="${id}">${op.description} <span class="op">${op.name}</span>${preselected ? html` <strong>(requested)</strong>` : ''}</label></div>`;
    });
    return html`<fieldset><legend>${agent.displayName} <span class="op">${agent.id}</span></legend>${boxes}</fieldset>`;
  });
  return html`<form method="post" action="/connections/${encodeURIComponent(provider.id)}/consent">
<input type="hidden" name="_csrf" value="${viewer.csrfToken}"><input type="hidden" name="grant" value="${grant.id}">
<h3>What agents may do</h3>${fieldsets}
<button type="submit">Save choices</button></form>`;
}

function grantSection(model: ProviderPageModel, grant: Grant): Html {
  const { viewer, provider } = model;
  const activity = model.activity.get(grant.id);
  const status: ProviderStatus = grant.status;
  const unlink = html`<form method="post" action="/connections/${encodeURIComponent(provider.id)}/unlink">
<input type="hidden" name="_csrf" value="${viewer.csrfToken}"><input type="hidden" name="grant" value="${grant.id}">
<button type="submit" class="danger">Unlink this account</button></form>`;
  return html`<section class="grant" aria-label="Linked account">
<h2>Linked account</h2>
<dl>
<dt>Status</dt><dd>${statusBadge(status)}</dd>
<dt>Account</dt><dd class="op">${grant.upstreamSubject}</dd>
${grant.instanceUrl ? html`<dt>Instance</dt><dd class="op">${grant.instanceUrl}</dd>` : ''}
<dt>Linked</dt><dd>${new Date(grant.createdAt).toISOString().slice(0, 16).replace('T', ' ')} UTC</dd>
</dl>
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
${request ? html`<p class="notice ask">${request.agent.displayName} asks to: <strong>${request.operation.description}</strong> <span class="op">${request.operation.name}</span></p>` : ''}
<p>Status: ${statusBadge(status)}</p>
${grants.map((g) => grantSection(model, g))}
${grants.length === 0 ? linkForm(model, `Link your ${provider.displayName} account`) : ''}
<p><a href="/connections">All connections</a></p>`;
  return layout(provider.displayName, body, model.viewer);
}

export const PAGES_CSS = `
:root{--fg:#1a1a1a;--bg:#fff;--muted:#4a4a4a;--accent:#0b57d0;--ok:#0a6b2d;--bad:#a4141b;--line:#c8c8c8}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);background:var(--bg)}
main{max-width:46rem;margin:0 auto;padding:1rem}
.top{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:center;gap:.5rem;padding:.75rem 1rem;border-bottom:1px solid var(--line)}
.brand{font-weight:700;color:var(--fg);text-decoration:none}
.who{margin-right:.5rem;color:var(--muted)}
.skip{position:absolute;left:-999px}.skip:focus{left:1rem;top:1rem;background:#fff;padding:.5rem;z-index:1}
a{color:var(--accent)}
:focus-visible{outline:3px solid var(--accent);outline-offset:2px}
h1{font-size:1.6rem}h2{font-size:1.25rem}h3{font-size:1.05rem}
.cards{list-style:none;padding:0}.cards li{border:1px solid var(--line);border-radius:6px;padding:.75rem 1rem;margin:.75rem 0}
.cards h2{margin:0}
.status{display:inline-block;padding:0 .5rem;border-radius:1rem;border:1px solid currentColor;font-size:.9rem}
.status-active{color:var(--ok)}.status-revoked,.status-consent_required{color:var(--bad)}.status-not_linked{color:var(--muted)}
.notice{border-left:4px solid var(--accent);padding:.5rem .75rem;background:#eef3fc}
.notice.ok{border-color:var(--ok);background:#e9f5ee}.notice.error{border-color:var(--bad);background:#fbeaea}
.op{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem;color:var(--muted);word-break:break-all}
fieldset{border:1px solid var(--line);border-radius:6px;margin:.75rem 0;padding:.5rem 1rem}
legend{font-weight:600;padding:0 .25rem}
.check{display:flex;gap:.5rem;align-items:flex-start;margin:.5rem 0}
.check input{width:1.25rem;height:1.25rem;margin-top:.15rem;flex:none}
.asked{background:#fff7d6}
button{font:inherit;padding:.6rem 1rem;min-height:44px;border-radius:6px;border:1px solid var(--accent);background:var(--accent);color:#fff;cursor:pointer;margin:.25rem 0}
button.danger{background:#fff;color:var(--bad);border-color:var(--bad)}
button.link{background:none;border:none;color:var(--accent);text-decoration:underline;min-height:auto;padding:0}
.inline{display:inline}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem}dd{margin:0}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
caption{text-align:left;color:var(--muted);padding:.25rem 0}
th,td{text-align:left;vertical-align:top;padding:.4rem .5rem;border-bottom:1px solid var(--line)}
thead th{border-bottom:2px solid var(--fg)}
ul.plain{list-style:none;margin:0;padding:0}
.vh{position:absolute;width:1px;height:1px;overflow:hidden;clip-path:inset(50%);white-space:nowrap}
`;
