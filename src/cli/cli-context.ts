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

/** What an unknown option looks like: `--` and a lower-case name (`--frobnicate`, `--dry-run=1`). */
const OPTION_LIKE = /^--[a-z][a-z-]*(=|$)/;

/**
 * The command line with its operands moved after a `--`, for parseArgs. Ids given as operands
 * (grants, approvals, webhook deliveries) are random base64url or hashes and begin with `-` one
 * time in 64; parseArgs would read `revoke -xYZ…` as an unknown option `-x`. So only what names
 * an option of OPTIONS (`--name`, `--name=value`, `-h`) or looks like one (`--frobnicate`, still
 * refused as unknown) is an option; anything else is an operand, wherever it stands. A string
 * option takes the next argument as its value whatever it begins with (`--reason -1`; TypeError
 * when there is none), and an explicit `--` ends the options as usual.
 */
export function operandsLast(argv: readonly string[]): string[] {
  const options: string[] = [];
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      operands.push(...argv.slice(i + 1));
      break;
    }
    const name = arg === '-h' ? 'help' : OPTION_LIKE.test(arg) ? arg.slice(2).split('=')[0]! : undefined;
    if (name === undefined) {
      operands.push(arg);
      continue;
    }
    const def = (OPTIONS as Record<string, { type: 'string' | 'boolean' }>)[name];
    if (def?.type === 'string' && !arg.includes('=')) {
      if (i + 1 >= argv.length) throw new TypeError(`Option '--${name} <value>' argument missing`);
      options.push(`--${name}=${argv[++i]!}`);
    } else options.push(arg);
  }
  return [...options, '--', ...operands];
}

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
