/**
 * The consent page deep link `/connections/{provider}?agent=..&operation=..` (the provider page of src/linking/):
 * where an exchange's `consent_required` error sends the user to link or re-consent.
 */
export function consentLink(publicUrl: string, provider: string, agent?: string, operation?: string): string {
  const url = new URL(`/connections/${encodeURIComponent(provider)}`, publicUrl);
  if (agent) url.searchParams.set('agent', agent);
  if (operation) url.searchParams.set('operation', operation);
  return url.href;
}
