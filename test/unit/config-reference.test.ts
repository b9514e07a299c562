/**
 * The README's configuration reference cannot drift from the schema: every key of
 * src/config/schema.ts (providers and agents included) has a row, and no row names a key the
 * schema lacks. A failure names the keys.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configSchema } from '../../src/config/schema.js';
import { configKeys } from '../helpers/config-keys.js';

const README = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');

/** The first cell of each row of the table under `## Configuration`. */
function documentedKeys(): string[] {
  const section = README.split('\n## Configuration\n')[1]?.split('\n## ')[0] ?? '';
  return section
    .split('\n')
    .map((line) => /^\| `([^`]+)` \|/.exec(line)?.[1])
    .filter((key): key is string => key !== undefined);
}

describe('README configuration reference', () => {
  const { leaves, all } = configKeys(configSchema);
  const documented = documentedKeys();

  it('has a row for every key of the schema', () => {
    expect(leaves.filter((key) => !documented.includes(key))).toStrictEqual([]);
  });

  it('names no key the schema lacks', () => {
    expect(documented.filter((key) => !all.has(key))).toStrictEqual([]);
  });

  it('names each key once', () => {
    expect(documented.filter((key, i) => documented.indexOf(key) !== i)).toStrictEqual([]);
  });

  it('reads the keys of nested objects, arrays, records and unions', () => {
    expect(leaves).toContain('identity.login.clientSecretFile');
    expect(leaves).toContain('identity.subjectIssuers[].jwksUri');
    expect(leaves).toContain('providers.<provider>.operations.<operation>.paths');
    expect(leaves).toContain('providers.<provider>.instanceHosts');
    expect(leaves).toContain('agents.<agent>.operations');
  });
});
