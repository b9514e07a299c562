/** Field schemas shared by the sections of the configuration (src/config/schema.ts). */
import { z } from 'zod';

/** The schema metadata key that marks a file path (read by src/config/file-paths.ts). */
export const FILE_PATH_MARK = 'x-file-path';

/**
 * A path to a file or directory on disk (certificate, key, secret, connection string); never the
 * secret inline. Relative paths in a configuration file are relative to the file.
 */
export const filePath = z
  .string()
  .min(1)
  .meta({ [FILE_PATH_MARK]: true });
