export type { AuditAction, AuditDecision, AuditEventInput, AuditRecord, AuditWriter } from './events.js';
export { createAuditWriter, type AuditWriterMetrics, type AuditWriterOptions, type FlushableAuditWriter } from './writer.js';
export { verifyChain, verifyTrail, type BrokenReason, type TrailReport, type VerifyOptions, type VerifyReport } from './verify.js';
export {
  fileCheckpointSink,
  newerCheckpoints,
  readCheckpointFile,
  signCheckpoint,
  verifyCheckpoint,
  type AuditCheckpoint,
  type CheckpointSink,
} from './checkpoint.js';
export { createCheckpointer, type Checkpointer, type CheckpointerOptions } from './checkpointer.js';
export { AuditContentionError, AuditEventError, AuditOverloadError, AuditTamperError, InvalidCheckpointError } from './errors.js';
