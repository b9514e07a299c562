import { describe, expect, it } from 'vitest';
import { safeReturnTo } from '../../../src/linking/return-to.js';

describe('returnTo after sign-in', () => {
  it.each([
    ['/connections', '/connections'],
    [
      '/connections/salesforce?agent=spiffe%3A%2F%2Fa&operation=salesforce%3Arecords.read',
      '/connections/salesforce?agent=spiffe%3A%2F%2Fa&operation=salesforce%3Arecords.read',
    ],
    ['/connections#frag', '/connections'],
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
});
