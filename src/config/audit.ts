/** The `audit` section of the configuration (src/config/schema.ts): checkpoints, chains, retention, archive. */
import { z } from 'zod';
import { filePath } from './fields.js';

export const auditSchema = z
  .strictObject({
    /** Where the newest signed audit checkpoint is kept (outside Redis); default `<keys.dir>/audit-checkpoint.json`. */
    checkpointFile: filePath.optional(),
    /**
     * Independent hash chains of the trail (each its own Redis stream, head and checkpoint, spread
     * over Cluster slots). Fixed for the life of a trail: the vault refuses to start on a trail
     * written under another count.
     */
    chains: z.number().int().min(1).max(1024).default(16),
    /** Redis keeps audit records this long, and only until the archive holds them (src/audit/archive/). */
    retention: z.strictObject({ windowSeconds: z.number().int().min(60).default(86_400) }).prefault({}),
    archive: z
      .strictObject({
        postgres: z
          .strictObject({
            /** File holding the runtime role's connection string (`postgres://…`): SELECT and INSERT only. */
            connectionFile: filePath,
            /** File holding the schema owner's connection string: migrations are applied at start. */
            migrationConnectionFile: filePath.optional(),
            poolSize: z.number().int().min(1).max(50).default(4),
            /** TLS to PostgreSQL, verified against this CA. */
            ssl: z.strictObject({ caFile: filePath }).optional(),
            lagWarnSeconds: z.number().int().min(1).default(300),
            intervalMs: z.number().int().min(10).max(60_000).default(1000),
            batchSize: z.number().int().min(1).max(10_000).default(1000),
          })
          .optional(),
      })
      .prefault({}),
  })
  .prefault({});
