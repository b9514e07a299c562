/**
 * The vault's own audit writer (the runtime's, with its log mirror), with a switch that makes
 * every record fail (an audit store outage) without touching the store.
 */
import type { AuditEventInput, AuditRecord, AuditWriter } from '../../src/audit/events.js';
import type { Runtime } from '../../src/boot.js';
import { trailEntries } from './audit-trail.js';

export class FlakyAudit implements AuditWriter {
  failing = false;
  readonly #inner: AuditWriter;

  constructor(runtime: Runtime) {
    this.#inner = runtime.audit;
  }

  record(event: AuditEventInput): Promise<AuditRecord> {
    if (this.failing) return Promise.reject(new Error('audit store down'));
    return this.#inner.record(event);
  }

  tokenHmac(token: string): string {
    return this.#inner.tokenHmac(token);
  }
}

/** Every durable audit record, oldest first across the chains. */
export async function auditRecords(runtime: Runtime): Promise<AuditRecord[]> {
  return (await trailEntries(runtime.stores.audit)).map((e) => JSON.parse(e.body) as AuditRecord);
}
