/** What every admin CLI command gets: parsed options, its arguments, the connection and the output streams. */
import { parseArgs } from 'node:util';
import type { Connection } from './admin-http.js';

export interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export const OPTIONS = {
  url: { type: 'string' },
  cert: { type: 'string' },
  key: { type: 'string' },
  cacert: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  reason: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  agent: { type: 'string' },
  user: { type: 'string' },
  provider: { type: 'string' },
  status: { type: 'string' },
  gateway: { type: 'string' },
  grant: { type: 'string' },
  actor: { type: 'string' },
  decision: { type: 'string' },
  action: { type: 'string' },
  'trace-id': { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  'from-seq': { type: 'string' },
  chain: { type: 'string' },
  'page-size': { type: 'string' },
  'max-pages': { type: 'string' },
  restart: { type: 'boolean' },
} as const;

export type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

export interface Ctx {
  conn: Connection;
  values: Values;
  args: string[];
  io: Io;
}

/** JSON with `--json`, else the readable text. */
export function print(ctx: Ctx, json: unknown, text: () => string): number {
  ctx.io.out.write(ctx.values.json ? `${JSON.stringify(json, null, 2)}\n` : `${text()}\n`);
  return 0;
}

/** A positive integer option, or a usage error naming the option (never its value). */
export function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^[1-9][0-9]{0,5}$/.test(value)) throw new UsageError(`--${name} must be a positive integer`);
  return Number(value);
}
