import { describe, expect, it } from 'vitest';
import { matchPattern, parseForwardTarget } from '../../../src/forward/path-policy.js';

describe('forward target normalisation', () => {
  it('splits provider, raw path, decoded segments and query', () => {
    expect(parseForwardTarget('/forward/crm/records/a%20b?x=1&y=%2F')).toStrictEqual({
      provider: 'crm',
      path: '/records/a%20b',
      segments: ['records', 'a b'],
      query: '?x=1&y=%2F',
    });
  });

  it.each([
    'https://crm.test/forward/crm/records/1',
    '/forward/crm',
    '/forward/CRM/records',
    '/forward/crm/records/../x',
    '/forward/crm/records/./x',
    '/forward/crm/records/%2e%2E',
    '/forward/crm/records/.%2e',
    '/forward/crm/a%2Fb',
    '/forward/crm/a%5cb',
    '/forward/crm/a%252fb',
    '/forward/crm/a\\b',
    '/forward/crm//records',
    '/forward/crm/records/',
    '/forward/crm/a%00',
    '/forward/crm/a%0a',
    '/forward/crm/%zz',
    '/forward/crm/a#frag',
  ])('refuses %s', (target) => {
    expect(parseForwardTarget(target)).toBeNull();
  });
});

describe('operation path patterns', () => {
  const patterns = ['/records/{id}', '/files/*/meta', '/exports/**'];
  it.each([
    [['records', '42'], '/records/{id}'],
    [['files', 'a', 'meta'], '/files/*/meta'],
    [['exports'], '/exports/**'],
    [['exports', 'a', 'b'], '/exports/**'],
  ])('%j matches %s', (segments, pattern) => {
    expect(matchPattern(patterns, segments)).toBe(pattern);
  });

  it.each([[['records']], [['records', '1', 'notes']], [['Records', '1']], [['files', 'a']], [['export']]])('%j matches nothing', (segments) => {
    expect(matchPattern(patterns, segments)).toBeNull();
  });
});
