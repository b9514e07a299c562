import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions, scrubSecrets } from '../../../src/http/logging.js';

const CANARY = 'canary-secret-value-7f3a';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  const options = loggerOptions('info', stream) as pino.LoggerOptions & { stream: Writable };
  const { stream: dest, ...rest } = options;
  return { log: pino(rest, dest), lines };
}

describe('log redaction', () => {
  it('censors every secret-named field at the top three levels, in objects and arrays, whatever its case', () => {
    const { log, lines } = capture();
    for (const field of [
      'authorization',
      'cookie',
      'set-cookie',
      'access_token',
      'refresh_token',
      'id_token',
      'subject_token',
      'actor_token',
      'client_secret',
      'client_assertion',
      'code',
      'code_verifier',
      'password',
      'token',
      'state',
    ]) {
      log.info({ [field]: CANARY });
      log.info({ outer: { [field]: CANARY } });
      log.info({ outer: { inner: { [field]: CANARY } } });
      log.info({ list: [{ [field]: CANARY }] });
      log.info({ outer: { [field.toUpperCase()]: CANARY } });
    }
    log.child({ reqId: 'r-1' }).warn({ request: { headers: { authorization: `Bearer ${CANARY}`, cookie: CANARY } } }, 'request');
    expect(lines.length).toBe(76);
    expect(lines.filter((l) => l.includes(CANARY))).toStrictEqual([]);
    expect(lines.every((l) => l.includes('[redacted]'))).toBe(true);
  });

  it('leaves the logged object untouched and keeps harmless fields and errors intact', () => {
    const { log, lines } = capture();
    const err = Object.assign(new Error('upstream refused'), { code: CANARY, status: 502 });
    const payload = { grant: 'g-1', nested: { token: CANARY, provider: 'crm' }, err };
    log.error(payload, 'failed');
    expect(payload.nested.token).toBe(CANARY);
    expect(err.code).toBe(CANARY);
    const line = JSON.parse(lines[0]!) as { grant: string; nested: unknown; err: Record<string, unknown> };
    expect(line.grant).toBe('g-1');
    expect(line.nested).toStrictEqual({ token: '[redacted]', provider: 'crm' });
    expect(line.err.message).toBe('upstream refused');
    expect(line.err.type).toBe('Error');
    expect(line.err.code).toBe('[redacted]');
    expect(line.err.status).toBe(502);
  });

  it("reaches into an error's (non-enumerable) cause without touching the original", () => {
    const cause = Object.assign(new Error('inner'), { access_token: CANARY });
    const err = new Error('outer', { cause });
    const scrubbed = scrubSecrets({ err });
    expect(JSON.stringify((scrubbed.err.cause as Record<string, unknown>).access_token)).toBe('"[redacted]"');
    expect(scrubbed.err).toBeInstanceOf(Error);
    expect(scrubbed.err.message).toBe('outer');
    expect(cause.access_token).toBe(CANARY);
  });

  it('returns the same object when there is nothing to censor', () => {
    const value = { a: 1, b: { c: ['x', { d: 'y' }] } };
    expect(scrubSecrets(value)).toBe(value);
  });
});
