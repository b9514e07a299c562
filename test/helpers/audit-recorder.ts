/** An AuditWriter test double for unit tests: keeps records in memory, can be made to fail. */
import { createHmac } from 'node:crypto';
import type { AuditEventInput, AuditRecord, AuditWriter } from '../../src/audit/events.js';

export class AuditRecorder implements AuditWriter {
  readonly records: AuditRecord[] = [];
  failing = false;

  async record(event: AuditEventInput): Promise<AuditRecord> {
    if (this.failing) throw new Error('audit store down');
    const record = { ...event, seq: this.records.length + 1, time: new Date().toISOString() };
    this.records.push(record);
    return record;
  }

  tokenHmac(token: string): string {
    return createHmac('sha256', 'test-audit-key').update(token).digest('base64url');
  }
}
