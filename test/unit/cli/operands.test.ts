/**
 * The admin CLI reads ids that begin with '-' (random base64url and hashes do, one in 64) as the
 * operands they are, and still refuses options it does not know.
 */
import { PassThrough } from 'node:stream';
import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/admin-commands.js';
import { OPTIONS, operandsLast } from '../../../src/cli/cli-context.js';

const parse = (argv: string[]) => {
  const { values, positionals } = parseArgs({ args: operandsLast(argv), options: OPTIONS, allowPositionals: true, strict: true });
  return { values: { ...values }, positionals };
};

async function cli(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (c: Buffer) => (chunks.out += c.toString()));
  err.on('data', (c: Buffer) => (chunks.err += c.toString()));
  const code = await run(argv, {}, { out, err });
  return { code, stdout: chunks.out, stderr: chunks.err };
}

describe('admin CLI operands', () => {
  it('takes ids beginning with - or -- as operands, wherever they stand', () => {
    expect(parse(['revoke', '-xYZPtCyKl9MtqtMtRzBJNBn', '--reason', 'left the company'])).toEqual({
      values: { reason: 'left the company' },
      positionals: ['revoke', '-xYZPtCyKl9MtqtMtRzBJNBn'],
    });
    expect(parse(['--json', 'approvals', 'approve', '--Ab3_x9-QkZ'])).toEqual({
      values: { json: true },
      positionals: ['approvals', 'approve', '--Ab3_x9-QkZ'],
    });
    expect(parse(['webhooks', 'redeliver', '-', '--limit=5'])).toEqual({ values: { limit: '5' }, positionals: ['webhooks', 'redeliver', '-'] });
  });

  it("gives a string option the next argument whatever it begins with, and ends options at '--'", () => {
    expect(parse(['revoke', 'g-1', '--reason', '-1 day'])).toEqual({ values: { reason: '-1 day' }, positionals: ['revoke', 'g-1'] });
    expect(parse(['revoke', '--', '-h', '--json'])).toEqual({ values: {}, positionals: ['revoke', '-h', '--json'] });
    expect(parse(['-h'])).toEqual({ values: { help: true }, positionals: [] });
  });

  it('reads every random base64url id as the one operand it is', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 9, maxLength: 32 }), (bytes) => {
        const id = Buffer.from(bytes).toString('base64url');
        expect(parse(['revoke', id, '--reason', 'r']).positionals).toEqual(['revoke', id]);
        expect(parse(['approvals', 'deny', id]).positionals).toEqual(['approvals', 'deny', id]);
      }),
      { numRuns: 2000 },
    );
  });

  it('still refuses an unknown option and a string option without its value, with the usage text', async () => {
    const unknown = await cli(['grants', '--frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stdout).toBe('');
    expect(unknown.stderr).toMatch(/^error: usage: Unknown option '--frobnicate'/);
    expect(unknown.stderr).toContain('usage: token-vault-admin [options] <command>');

    const missing = await cli(['revoke', '--reason']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/^error: usage: Option '--reason <value>' argument missing/);
    const afterOperand = await cli(['revoke', 'g-1', '--reason']);
    expect(afterOperand).toEqual(missing);
  });
});
