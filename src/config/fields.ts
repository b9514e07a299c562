/** Field schemas shared by the sections of the configuration (src/config/schema.ts). */
import { z } from 'zod';

/** A path to a file on disk (certificate, key, secret, connection string); never the secret inline. */
export const filePath = z.string().min(1);
