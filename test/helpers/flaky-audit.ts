/**
 * The vault's own audit writer (the runtime's, with its log mirror), with a switch that makes
 * every record fail (an audit store outage) without touching the store.
 */
import type { AuditEventInput, AuditRecord, AuditWriter } from '../../src/audit/events.js';
import type { Runtime } from '../../src/boot.js';

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

/** Every durable audit record, in chain order. */
export async function auditRecords(runtime: Runtime): Promise<AuditRecord[]> {
  const out: AuditRecord[] = [];
  for (let seq = 1; ;) {
    const entries = await runtime.stores.audit.range(seq, 1000);
    if (entries.length === 0) return out;
    for (const e of entries) out.push(JSON.parse(e.body) as AuditRecord);
    seq = entries.at(-1)!.seq + 1;
  }
}
