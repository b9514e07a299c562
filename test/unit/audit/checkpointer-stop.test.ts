import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { AuditCheckpoint } from '../../../src/audit/checkpoint.js';
import { createCheckpointer } from '../../../src/audit/checkpointer.js';
import { createAuditWriter } from '../../../src/audit/writer.js';
import { createMemoryStores } from '../../../src/store/memory/index.js';

const hmacKey = randomBytes(32);

describe('stopping the audit checkpointer (shutdown)', () => {
  it('signs the records not yet vouched for once, then writes nothing more', async () => {
    const store = createMemoryStores(2).audit;
    const written: AuditCheckpoint[][] = [];
    const checkpointer = createCheckpointer({
      store,
      hmacKey,
      everyRecords: 1000,
      everyMs: 60_000,
      sink: async (cps) => {
        written.push(cps);
      },
    });
    const writer = createAuditWriter({ store, hmacKey, onCommit: checkpointer.observe });
    for (let i = 0; i < 3; i++) await writer.record({ action: 'token.forward', decision: 'allow', grant: `g${i}` });
    expect(written).toStrictEqual([]);

    await checkpointer.stop();
    const heads = await store.heads();
    const signed = written.at(-1)!.map((cp) => ({ chain: cp.chain, seq: cp.seq, hash: cp.hash }));
    const expected = heads.flatMap((h, chain) => (h === null ? [] : [{ chain, seq: h.seq, hash: h.hash }]));
    expect(signed).toStrictEqual(expected);
    expect(written).toHaveLength(1);

    // Records a late writer still commits reach no timer and no background pass.
    const late = createAuditWriter({ store, hmacKey, onCommit: checkpointer.observe });
    for (let i = 0; i < 5; i++) await late.record({ action: 'token.forward', decision: 'allow' });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(written).toHaveLength(1);
  });

  it('writes nothing when every record is already signed', async () => {
    const store = createMemoryStores(1).audit;
    const written: AuditCheckpoint[][] = [];
    const checkpointer = createCheckpointer({ store, hmacKey, everyRecords: 1000, everyMs: 0, sink: async (cps) => void written.push(cps) });
    const writer = createAuditWriter({ store, hmacKey, onCommit: checkpointer.observe });
    await writer.record({ action: 'token.forward', decision: 'allow' });
    await checkpointer.checkpointNow();
    await checkpointer.stop();
    expect(written).toHaveLength(1);
  });

  it('leaves nothing due when a record committed during a pass is signed by it', async () => {
    const inner = createMemoryStores(1).audit;
    let writeDuringRead: (() => Promise<void>) | undefined;
    const store = inner;
    const readHeads = inner.heads.bind(inner);
    store.heads = async () => {
      const write = writeDuringRead;
      writeDuringRead = undefined;
      await write?.();
      return readHeads();
    };
    const written: AuditCheckpoint[][] = [];
    const checkpointer = createCheckpointer({ store, hmacKey, everyRecords: 1000, everyMs: 0, sink: async (cps) => void written.push(cps) });
    const writer = createAuditWriter({ store: inner, hmacKey, onCommit: checkpointer.observe });
    await writer.record({ action: 'token.forward', decision: 'allow' });
    // The second record commits after the pass reset the counts and before it read the heads.
    writeDuringRead = async () => void (await writer.record({ action: 'token.forward', decision: 'allow' }));
    const [cp] = await checkpointer.checkpointNow();
    expect(cp!.seq).toBe(2);
    await checkpointer.stop();
    expect(written.map((cps) => cps.map((c) => c.seq))).toStrictEqual([[2]]);
  });
});
