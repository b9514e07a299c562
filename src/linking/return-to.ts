/**
 * Where the pages may send a browser after sign-in or linking: only a path on
 * this origin. Browsers treat `//host`, `/\host` and paths with tabs or
 * newlines stripped as other origins, so anything with a backslash, a control
 * character or a second leading slash is refused, also when percent-encoded
 * (the value is decoded until it stops changing before it is checked).
 */
const MAX_LENGTH = 512;

export function safeReturnTo(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return null;
  let decoded = value;
  for (let i = 0; ; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return null;
    }
    if (next === decoded) break;
    // Still changing after several rounds: layered encoding is never legitimate here.
    if (i === 4) return null;
    decoded = next;
  }
  for (const candidate of [value, decoded]) {
    if (!candidate.startsWith('/')) return null;
    if (candidate.startsWith('//')) return null;
    // Backslash, every C0 control (tab, CR, LF, NUL) and DEL.
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    if (/[\\\u0000-\u001f\u007f]/.test(candidate)) return null;
  }
  // Resolving against a placeholder origin must not leave it (belt and braces).
  const resolved = new URL(value, 'https://vault.invalid');
  if (resolved.origin !== 'https://vault.invalid') return null;
  return resolved.pathname + resolved.search;
}
