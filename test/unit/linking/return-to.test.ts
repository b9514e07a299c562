import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { safeReturnTo } from '../../../src/linking/return-to.js';

const ORIGIN = 'https://vault.example';
const RUNS = 10_000;

describe('returnTo after sign-in', () => {
  it.each([
    ['/connections', '/connections'],
    [
      '/connections/salesforce?agent=spiffe%3A%2F%2Fa&operation=salesforce%3Arecords.read',
      '/connections/salesforce?agent=spiffe%3A%2F%2Fa&operation=salesforce%3Arecords.read',
    ],
    ['/connections#frag', '/connections'],
    // Dot segments are removed: what is returned is the normalised path, and it is what was checked.
    ['/connections/./salesforce', '/connections/salesforce'],
    ['/x/../connections', '/connections'],
  ])('keeps the same-origin path %s', (input, expected) => {
    expect(safeReturnTo(input)).toBe(expected);
  });

  it.each([
    '//evil.example',
    '//evil.example/connections',
    '/\\evil.example',
    '\\\\evil.example',
    '/\t/evil.example',
    '/\n/evil.example',
    '/\r/evil.example',
    '\t//evil.example',
    '/%2F/evil.example',
    '/%2fevil.example',
    '%2F%2Fevil.example',
    '/%5Cevil.example',
    '/%5cevil.example',
    '/%09/evil.example',
    '/%0a/evil.example',
    '/%0D/evil.example',
    '/%252F/evil.example',
    '/%25252F%25252Fevil.example',
    '/%2525252525252F/evil.example',
    // Dot segments the URL parser removes, leaving a protocol-relative path.
    '/.//evil.example',
    '/./\\evil.example',
    '/..//evil.example',
    '/a/..//evil.example',
    '/a/b/../..//evil.example',
    '/%2e//evil.example',
    '/%2E//evil.example',
    '/.%2e//evil.example',
    '/%2e%2E//evil.example',
    '/connections/.././/evil.example',
    '/.//evil.example/connections?x=1',
    '/.//',
    'https://evil.example/',
    'http:/evil.example',
    'javascript:alert(1)',
    'evil.example',
    '',
    '/%E0%A4%A',
    '/\u0000',
    '/\u007f',
    `/${'a'.repeat(600)}`,
  ])('refuses %j', (input) => {
    expect(safeReturnTo(input)).toBeNull();
  });

  it('refuses non-strings', () => {
    expect(safeReturnTo(undefined)).toBeNull();
    expect(safeReturnTo(['/a'])).toBeNull();
  });

  // Path pieces a normaliser or a browser may read differently: dot segments (also encoded, any case),
  // encoded and raw slashes and backslashes, tabs and newlines, unicode look-alikes, query and fragment.
  const piece = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom('.', '..', '%2e', '%2E', '.%2e', '%2E.', '%2e%2e', '%2E%2e', '', '', 'connections', 'evil.example', 'A', 'b') },
    { weight: 3, arbitrary: fc.constantFrom('%2f', '%2F', '%5c', '%5C', '\\', '\t', '\n', '\r', '%09', '%0a', '%0D', '%00', '%252f', '%25', '%', '@', ':') },
    { weight: 2, arbitrary: fc.constantFrom('é', 'ＥＶＩＬ', '／', '＼', '\u2215', '\u3002', '\u200b', '?x=//y', '?', '#f', ' ', '%20', '%E2%88%95') },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 3 }) },
  );
  const separator = fc.constantFrom('/', '/', '/', '/', '//', '\\', '/\t', '%2f', '%2F');
  const lead = fc.constantFrom('/', '/', '/', '/', '//', '\\', '/\\', '', '\t/', ' /', '/\n/', 'https:', 'http://evil.example');
  const casing = fc.constantFrom(
    (s: string) => s,
    (s: string) => s.toUpperCase(),
    (s: string) => s.toLowerCase(),
  );
  const parse = (value: string): URL | null => {
    try {
      return new URL(value, ORIGIN);
    } catch {
      return null;
    }
  };
  const candidate = fc
    .tuple(lead, fc.array(fc.tuple(piece, separator), { maxLength: 8 }), piece, casing)
    .map(([start, parts, last, cased]) => cased(start + parts.map(([p, sep]) => p + sep).join('') + last));

  it(`sends the browser only to this origin, exactly the path it checked (${RUNS} generated paths, WHATWG URL as oracle)`, () => {
    let accepted = 0;
    let normalisedOffOrigin = 0;
    fc.assert(
      fc.property(candidate, (input) => {
        // The bug class: the parser's own normalisation of the input would leave the origin.
        const naive = parse(input);
        if (naive?.origin === ORIGIN && parse(naive.pathname + naive.search)?.origin !== ORIGIN) normalisedOffOrigin++;
        const location = safeReturnTo(input);
        if (location === null) return;
        accepted++;
        const resolved = new URL(location, ORIGIN);
        expect(resolved.origin).toBe(ORIGIN);
        expect(resolved.pathname + resolved.search).toBe(location);
        expect(safeReturnTo(location)).toBe(location);
      }),
      { numRuns: RUNS },
    );
    // Not vacuous: many inputs are accepted, and many hit the normalisation the fix is about.
    expect(accepted).toBeGreaterThan(RUNS / 20);
    expect(normalisedOffOrigin).toBeGreaterThan(RUNS / 100);
  });
});
