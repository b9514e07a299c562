import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { describe, expect, it } from 'vitest';
import { MeteredBody } from '../../../src/forward/metered-body.js';

const SECRET = 'upstream-secret-token';
const meter = (limit = 1000) =>
  new MeteredBody({ limit, tooLarge: () => new Error('too large'), secret: { forms: [SECRET], found: () => new Error('secret') } });

describe('MeteredBody', () => {
  it('passes a clean body through unchanged and counts it', async () => {
    const m = meter();
    const chunks = ['hello ', 'upstream-secret', ' world'];
    expect(await text(Readable.from(chunks.map((c) => Buffer.from(c))).pipe(m))).toBe(chunks.join(''));
    expect(m.bytes).toBe(chunks.join('').length);
  });

  it('finds the secret split across chunks before any of it has been passed on', async () => {
    const m = meter();
    const passed: string[] = [];
    m.on('data', (c: Buffer) => passed.push(c.toString()));
    const failed = new Promise<Error>((resolve) => m.on('error', resolve));
    m.write(Buffer.from('{"x":"upstream-sec'));
    m.write(Buffer.from('ret-token"}'));
    expect((await failed).message).toBe('secret');
    expect(passed.join('')).not.toContain('upstream-sec');
  });

  it('fails once the limit is passed', async () => {
    const m = meter(10);
    await expect(text(Readable.from([Buffer.alloc(6), Buffer.alloc(6)]).pipe(m))).rejects.toThrow('too large');
  });
});
