import type { FastifyRequest } from 'fastify';
import { describe, expect, it } from 'vitest';
import { AuditOverloadError } from '../../../src/audit/errors.js';
import { AccessDenied, AuditUnavailable, ServerError } from '../../../src/errors.js';
import { auditedRefusal, mustAudit, type RefusalOutcome, type RefusalRecorder } from '../../../src/http/audited-route.js';

const requestWith = (auditRefusal?: RefusalRecorder) => ({ routeOptions: { config: auditRefusal ? { auditRefusal } : {} } }) as unknown as FastifyRequest;

describe('audit the refusal, then answer', () => {
  it('records a refusal as deny with its detail before answering it', async () => {
    const recorded: RefusalOutcome[] = [];
    const refusal = new AccessDenied('no such grant for this user');
    expect(
      await auditedRefusal(
        requestWith(async (_r, outcome) => void recorded.push(outcome)),
        refusal,
      ),
    ).toBe(refusal);
    expect(recorded).toStrictEqual([{ decision: 'deny', reason: 'no such grant for this user' }]);
  });

  it('records the vault’s own failures as error, with the OAuth error when there is no detail', async () => {
    const recorded: RefusalOutcome[] = [];
    await auditedRefusal(
      requestWith(async (_r, outcome) => void recorded.push(outcome)),
      new ServerError(),
    );
    expect(recorded).toStrictEqual([{ decision: 'error', reason: 'server_error' }]);
  });

  it('answers 503 instead when the record cannot be written', async () => {
    const answered = await auditedRefusal(
      requestWith(() => Promise.reject(new AuditOverloadError('queue full'))),
      new AccessDenied('x'),
    );
    expect(answered).toBeInstanceOf(AuditUnavailable);
    expect([answered?.status, answered?.detail]).toStrictEqual([503, 'audit record could not be written (TV_AUDIT_OVERLOAD)']);
  });

  it('writes nothing for routes without a recorder, or for a refusal that is itself a failed audit write', () => {
    expect(auditedRefusal(requestWith(), new AccessDenied())).toBeNull();
    expect(
      auditedRefusal(
        requestWith(() => Promise.resolve()),
        new AuditUnavailable(),
      ),
    ).toBeNull();
  });

  it('fails a success closed when its record cannot be written', async () => {
    await expect(mustAudit(() => Promise.reject(new Error('down')))).rejects.toBeInstanceOf(AuditUnavailable);
    await expect(mustAudit(() => Promise.resolve('ok'))).resolves.toBeUndefined();
  });
});
