/**
 * The consent page deep link (DESIGN: `/connections/{provider}?agent=..&operation=..`):
 * where an exchange's `consent_required` error sends the user to link or re-consent.
 */
export function consentLink(publicUrl: string, provider: string, agent?: string, operation?: string): string {
  const url = new URL(`/connections/${encodeURIComponent(provider)}`, publicUrl);
  if (agent) url.searchParams.set('agent', agent);
  if (operation) url.searchParams.set('operation', operation);
  return url.href;
}
