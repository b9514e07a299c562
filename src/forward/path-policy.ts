/**
 * Which upstream path a /forward request targets, and whether an operation
 * covers it.
 *
 * Works on the raw request target, never on a router-decoded copy, and refuses
 * anything whose meaning could differ between the vault and the upstream
 * server (RFC 3986 §5.2.4 dot segments, §2.4 decoding once): `.`/`..` raw or
 * percent-encoded, encoded slashes and backslashes, encoded `%` (double
 * decoding), raw backslashes, empty segments (`//`), NUL and other control
 * characters, malformed escapes, fragments, and any target that is not
 * origin-form (RFC 9112 §3.2.1). Also `;` in a segment, raw or encoded: Java
 * servlet containers and some proxies read `..;` as `..` (path parameters),
 * so `/records/..;/admin` would leave the matched pattern upstream; and any
 * non-ASCII segment, which a server normalising Unicode (NFKC) could read as
 * dots or slashes. What passes is forwarded byte for byte, so
 * the upstream decodes exactly the segments that were matched here.
 */

/** The parts of an accepted `/forward/{provider}/{path}` target. */
export interface ForwardTarget {
  provider: string;
  /** Raw (still percent-encoded) upstream path, starting with `/`. */
  path: string;
  /** Decoded segments of `path`, for matching. */
  segments: string[];
  /** Raw query string including `?`, or ''. */
  query: string;
}

const PREFIX = '/forward/';
const PROVIDER = /^[a-z][a-z0-9-]{0,39}$/;
/** Escapes that change the segment structure or would decode twice: `/`, `\`, `%`, NUL. */
const FORBIDDEN_ESCAPE = /%(2f|5c|25|00)/i;
// eslint-disable-next-line no-control-regex -- refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Parses the raw target; null when it is not a plain origin-form forward path. */
export function parseForwardTarget(rawUrl: string): ForwardTarget | null {
  if (!rawUrl.startsWith(PREFIX) || rawUrl.includes('#') || rawUrl.includes('\\')) return null;
  const queryAt = rawUrl.indexOf('?');
  const rawPath = queryAt === -1 ? rawUrl : rawUrl.slice(0, queryAt);
  const query = queryAt === -1 ? '' : rawUrl.slice(queryAt);
  if (CONTROL.test(rawUrl) || /%00/.test(query)) return null;
  const slash = rawPath.indexOf('/', PREFIX.length);
  if (slash === -1) return null;
  const provider = rawPath.slice(PREFIX.length, slash);
  const path = rawPath.slice(slash);
  if (!PROVIDER.test(provider) || FORBIDDEN_ESCAPE.test(path)) return null;
  const segments: string[] = [];
  for (const raw of path.slice(1).split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return null;
    }
    if (segment === '' || segment === '.' || segment === '..' || CONTROL.test(segment) || /[\\/;]|[^ -~]/.test(segment)) return null;
    segments.push(segment);
  }
  return { provider, path, segments, query };
}

/**
 * The first pattern (providers/schema.ts `pathPattern`) that covers these segments:
 * literal segments match exactly (case-sensitive), `*` and `{name}` exactly one
 * segment, a final `**` zero or more remaining segments.
 */
export function matchPattern(patterns: readonly string[], segments: readonly string[]): string | null {
  return patterns.find((pattern) => covers(pattern.split('/').slice(1), segments)) ?? null;
}

function covers(pattern: readonly string[], segments: readonly string[]): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const part = pattern[i]!;
    if (part === '**' && i === pattern.length - 1) return true;
    const segment = segments[i];
    if (segment === undefined) return false;
    if (part === '*' || /^\{[a-z_]+\}$/.test(part)) continue;
    if (part !== segment) return false;
  }
  return pattern.length === segments.length;
}
