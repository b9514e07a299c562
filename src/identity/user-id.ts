/**
 * The vault's user id: the IdP issuer plus the subject (OIDC Core §2: `sub` is
 * only unique within its issuer). Browser sign-in and `subject_token`s from
 * the same IdP must produce the same id, so both use this one function.
 */
export function userIdOf(issuer: string, subject: string): string {
  // Issuers are https URLs without fragments (OIDC Discovery §3), so '#' cannot be ambiguous.
  return `${issuer}#${subject}`;
}
