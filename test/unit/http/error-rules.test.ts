/**
 * An mTLS caller of /exchange is told which rule failed, from errors.ts's closed list, and only it:
 * any other caller gets the code's static description. The README's error table is that list.
 */
import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, ERROR_RULES, InvalidRequest, InvalidScope, isErrorCode, type ErrorCode } from '../../../src/errors.js';
import { errorHandler } from '../../../src/http/error-handler.js';

const README = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');

/** The table the README must hold, rendered from ERROR_RULES in its order. */
function renderTable(): string {
  const rows = Object.entries(ERROR_RULES).flatMap(([code, rules]) => {
    const { error, status } = ERROR_CODES[code as ErrorCode];
    return rules.map((rule) => `| \`${error}\` | ${status} | ${rule} |`);
  });
  return ['| `error` | status | `error_description` |', '| --- | --- | --- |', ...rows].join('\n');
}

const apps: FastifyInstance[] = [];
afterAll(() => Promise.all(apps.map((app) => app.close())));

async function appWith(peer: { id: string } | undefined): Promise<FastifyInstance> {
  const app = Fastify();
  apps.push(app);
  app.setErrorHandler(errorHandler);
  if (peer) {
    app.decorateRequest('peer', null as unknown as never);
    app.addHook('onRequest', (request, _reply, done) => {
      (request as unknown as { peer: unknown }).peer = peer;
      done();
    });
  }
  app.get('/refuse', () => {
    throw new InvalidScope('unknown operation').because('scope names no operation of this provider');
  });
  await app.ready();
  return app;
}

describe('error descriptions', () => {
  it('an mTLS caller is told the rule that failed', async () => {
    const res = await (await appWith({ id: 'spiffe://example.com/gateway' })).inject('/refuse');
    expect(res.json()).toStrictEqual({ error: 'invalid_scope', error_description: 'scope names no operation of this provider', request_id: 'req-1' });
  });

  it('any other caller gets the static description', async () => {
    const res = await (await appWith(undefined)).inject('/refuse');
    expect(res.json()).toStrictEqual({ error: 'invalid_scope', error_description: ERROR_CODES.TV_INVALID_SCOPE.description, request_id: 'req-1' });
  });

  it('only names rules of its own code', () => {
    // @ts-expect-error a rule of another code does not type-check
    new InvalidScope().because('grant_type is not supported');
    // @ts-expect-error nor does a sentence outside the list
    new InvalidRequest().because('subject_token is not trusted by anyone');
  });

  it('every rule belongs to a code of the table', () => {
    for (const code of Object.keys(ERROR_RULES)) expect(isErrorCode(code), code).toBe(true);
  });

  it('rules are static, short and unique', () => {
    const all = Object.values(ERROR_RULES).flat();
    expect(new Set(all).size).toBe(all.length);
    for (const rule of all) expect(rule).toMatch(/^[a-z][A-Za-z0-9_ +:(),.-]{5,80}$/);
  });

  it('the README lists every description with its code (paste the expected table on a mismatch)', () => {
    const section = README.split('\n### Error descriptions\n')[1]?.split('\n#')[0] ?? '';
    const table = section
      .split('\n')
      .filter((line) => line.startsWith('|'))
      .join('\n');
    expect(table).toBe(renderTable());
  });
});
