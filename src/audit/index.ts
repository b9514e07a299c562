export type { AuditAction, AuditDecision, AuditEventInput, AuditRecord, AuditWriter } from './events.js';
export { createAuditWriter, type AuditWriterMetrics, type AuditWriterOptions, type FlushableAuditWriter } from './writer.js';
export { verifyChain, type BrokenReason, type VerifyOptions, type VerifyReport } from './verify.js';
export {
  createCheckpointer,
  fileCheckpointSink,
  readCheckpointFile,
  signCheckpoint,
  verifyCheckpoint,
  type AuditCheckpoint,
  type Checkpointer,
  type CheckpointerOptions,
  type CheckpointSink,
} from './checkpoint.js';
export { AuditContentionError, AuditEventError, AuditOverloadError, AuditTamperError, InvalidCheckpointError } from './errors.js';
