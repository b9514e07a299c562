/**
 * Where the pages may send a browser after sign-in or linking: only a path on
 * this origin. Browsers treat `//host`, `/\host` and paths with tabs or
 * newlines stripped as other origins, so anything with a backslash, a control
 * character or a second leading slash is refused, also when percent-encoded
 * (the value is decoded until it stops changing before it is checked).
 *
 * The value returned is the value checked: the URL parser removes dot segments
 * (`/.//host`, `/a/..//host`, `/%2e//host` all become `//host`), so the
 * normalised path and query are checked again, and must not change when a
 * browser resolves them once more (WHATWG URL, as browsers resolve `Location`).
 */
const MAX_LENGTH = 512;
const PLACEHOLDER_ORIGIN = 'https://vault.invalid';

export function safeReturnTo(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_LENGTH) return null;
  if (!isLocalPath(value)) return null;
  const normalised = resolveLocally(value);
  if (normalised === null || !isLocalPath(normalised)) return null;
  return resolveLocally(normalised) === normalised ? normalised : null;
}

/** Path and query of `value` resolved against this origin, or null if it leaves it. */
function resolveLocally(value: string): string | null {
  let resolved: URL;
  try {
    resolved = new URL(value, PLACEHOLDER_ORIGIN);
  } catch {
    return null;
  }
  return resolved.origin === PLACEHOLDER_ORIGIN ? resolved.pathname + resolved.search : null;
}

/** One leading slash, no backslash or control character, as given and once fully percent-decoded. */
function isLocalPath(value: string): boolean {
  let decoded = value;
  for (let i = 0; ; i++) {
    let next: string;
    try {
      next = decodeURIComponent(decoded);
    } catch {
      return false;
    }
    if (next === decoded) break;
    // Still changing after several rounds: layered encoding is never legitimate here.
    if (i === 4) return false;
    decoded = next;
  }
  for (const candidate of [value, decoded]) {
    if (!candidate.startsWith('/')) return false;
    if (candidate.startsWith('//')) return false;
    // Backslash, every C0 control (tab, CR, LF, NUL) and DEL.
    // eslint-disable-next-line no-control-regex -- refusing control characters is the point
    if (/[\\\u0000-\u001f\u007f]/.test(candidate)) return false;
  }
  return true;
}
