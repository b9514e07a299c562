/**
 * `token-vault-admin` / `npm run admin -- <command>`: the admin API from a
 * terminal or a script. Readable tables by default, `--json` for scripts.
 * Exit codes: 0 ok, 1 the API (or the connection) refused, with its error code
 * on stderr, 2 usage, 3 `audit verify` found a broken chain.
 */
import { parseArgs } from 'node:util';
import { ApiError, callAdmin, callJson, type Connection } from './admin-http.js';
import { table } from './table.js';
import { grants, revoke } from './grant-commands.js';
import { approvals } from './approval-commands.js';
import { webhooks } from './webhook-commands.js';
import { OPTIONS, operandsLast, positiveInt, print, UsageError, type Ctx, type Io } from './cli-context.js';
import type { RewrapState } from '../grants/rewrap-runs.js';

export type { Io } from './cli-context.js';

export const USAGE = `usage: token-vault-admin [options] <command>

commands:
  grants [--user <id>] [--agent <id>] [--provider <id>] [--status active|consent_required|revoked]
         [--limit <n>] [--cursor <c>]       grants (never a secret field)
  revoke <grant-id> --reason <text>      revoke one grant (unknown or already revoked: same answer)
  revoke --user|--agent|--provider <id> --reason <text>
                                         revoke every grant of one user, agent or provider, with a report
  kills                                  engaged kill switches
  kill <scope> [target] --reason <text>  engage; scope: global|gateway|agent|user|provider|grant (global: no target)
  unkill <scope> [target]                release
  audit [filters]                        audit records, newest first
      --from/--to <ISO time> --agent --user --provider --gateway --grant --actor
      --decision allow|deny|error --action <action> --trace-id <32 hex> --limit <n> --cursor <c>
  audit verify                           walk every hash chain, one line per chain (exit 3 when one is broken)
  audit export [--chain <i> [--from-seq <n>]]
                                         the stored chains (or one) as JSON lines on stdout
  keys                                   key ids, active keys, rewrap run
  keys rewrap [--page-size <n>] [--max-pages <n>] [--restart]
                                         one batch of the KEK rewrap job (repeat until done)
  keys reload                            load new kek-N / signing-N files from the keys directory
  approvals [list]                       requests awaiting an admin approval (exact method, path, body digest)
  approvals approve|deny <id>            decide one (decided or expired already: error)
  webhooks [--status pending|delivered|dead] [--limit <n>] [--cursor <c>]
                                         webhook deliveries, newest first
  webhooks redeliver <delivery-id>       send a delivered or dead webhook message again (same webhook-id)

options (environment variable, default):
  --url <url>       TOKEN_VAULT_ADMIN_URL     https://127.0.0.1:9443
  --cert <file>     TOKEN_VAULT_ADMIN_CERT    keys/dev/admin.crt
  --key <file>      TOKEN_VAULT_ADMIN_KEY     keys/dev/admin.key
  --cacert <file>   TOKEN_VAULT_ADMIN_CACERT  keys/dev/ca.crt
  TOKEN_VAULT_ADMIN_TOKEN: an admin JWT, sent with a console certificate (environment only: argv is visible to others)
  --json            JSON output for scripts

exit codes: 0 ok, 1 API or connection error (code on stderr), 2 usage, 3 audit chain broken`;

export async function run(argv: string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: operandsLast(argv), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err.write(`error: usage: ${(err as Error).message}\n\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help || positionals.length === 0) {
    (values.help ? io.out : io.err).write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const conn: Connection = {
    url: values.url ?? env.TOKEN_VAULT_ADMIN_URL ?? 'https://127.0.0.1:9443',
    cert: values.cert ?? env.TOKEN_VAULT_ADMIN_CERT ?? 'keys/dev/admin.crt',
    key: values.key ?? env.TOKEN_VAULT_ADMIN_KEY ?? 'keys/dev/admin.key',
    cacert: values.cacert ?? env.TOKEN_VAULT_ADMIN_CACERT ?? 'keys/dev/ca.crt',
    token: env.TOKEN_VAULT_ADMIN_TOKEN,
  };
  const [command, ...args] = positionals;
  const ctx: Ctx = { conn, values, args, io };
  try {
    return await dispatch(command!, ctx);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err.write(`error: usage: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    if (err instanceof ApiError) {
      if (err.code === 'usage') {
        io.err.write(`error: usage: ${err.description}\n`);
        return 2;
      }
      io.err.write(`error: ${err.code}${err.status ? ` (HTTP ${err.status})` : ''}: ${err.description}\n`);
      return 1;
    }
    throw err;
  }
}

async function dispatch(command: string, ctx: Ctx): Promise<number> {
  const sub = ctx.args[0];
  switch (command) {
    case 'grants':
      return grants(ctx);
    case 'revoke':
      return revoke(ctx);
    case 'approvals':
      return approvals(ctx);
    case 'kills':
      return kills(ctx);
    case 'kill':
      return kill(ctx);
    case 'unkill':
      return unkill(ctx);
    case 'audit':
      if (sub === 'verify') return auditVerify(ctx);
      if (sub === 'export') return auditExport(ctx);
      if (sub !== undefined) throw new UsageError(`unknown audit command ${sub}`);
      return auditQuery(ctx);
    case 'keys':
      if (sub === 'rewrap') return keysRewrap(ctx);
      if (sub === 'reload') return keysShow(ctx, 'POST', '/admin/keys/reload');
      if (sub !== undefined) throw new UsageError(`unknown keys command ${sub}`);
      return keysShow(ctx, 'GET', '/admin/keys');
    case 'webhooks':
      return webhooks(ctx);
    default:
      throw new UsageError(`unknown command ${command}`);
  }
}

interface KillSwitch {
  scope: string;
  target: string;
  reason: string;
  engagedAt: number;
  engagedBy: string;
}

function scopeAndTarget(ctx: Ctx): [string, string] {
  const [scope, target] = ctx.args;
  if (scope === undefined) throw new UsageError('a scope is required');
  if (scope === 'global') return [scope, target ?? '*'];
  if (target === undefined) throw new UsageError(`a target is required for scope ${scope}`);
  return [scope, target];
}

async function kills(ctx: Ctx): Promise<number> {
  const res = await callJson<{ epoch: number; switches: KillSwitch[] }>(ctx.conn, 'GET', '/admin/kill-switches');
  return print(ctx, res, () => {
    if (res.switches.length === 0) return `no kill switch engaged (epoch ${res.epoch})`;
    const rows = res.switches.map((s) => [s.scope, s.target, s.reason, new Date(s.engagedAt).toISOString(), s.engagedBy]);
    return `${table(['scope', 'target', 'reason', 'engaged at', 'engaged by'], rows)}\n(epoch ${res.epoch})`;
  });
}

async function kill(ctx: Ctx): Promise<number> {
  const [scope, target] = scopeAndTarget(ctx);
  if (!ctx.values.reason) throw new UsageError('--reason is required');
  const res = await callJson<{ epoch: number; switch: KillSwitch }>(ctx.conn, 'POST', '/admin/kill-switches', { scope, target, reason: ctx.values.reason });
  return print(ctx, res, () => `engaged ${scope} ${target} (epoch ${res.epoch})`);
}

async function unkill(ctx: Ctx): Promise<number> {
  const [scope, target] = scopeAndTarget(ctx);
  const path = `/admin/kill-switches/${encodeURIComponent(scope)}/${encodeURIComponent(target)}`;
  const res = await callJson<{ epoch: number; released: boolean }>(ctx.conn, 'DELETE', path);
  return print(ctx, res, () => `${res.released ? 'released' : 'was not engaged:'} ${scope} ${target} (epoch ${res.epoch})`);
}

const AUDIT_FILTERS = ['from', 'to', 'agent', 'user', 'provider', 'gateway', 'grant', 'actor', 'decision', 'action', 'limit', 'cursor'] as const;

async function auditQuery(ctx: Ctx): Promise<number> {
  const qs = new URLSearchParams();
  for (const f of AUDIT_FILTERS) if (ctx.values[f] !== undefined) qs.set(f, ctx.values[f]);
  if (ctx.values['trace-id'] !== undefined) qs.set('traceId', ctx.values['trace-id']);
  const query = qs.size > 0 ? `?${qs}` : '';
  const res = await callJson<{ items: Array<Record<string, unknown>>; next?: string }>(ctx.conn, 'GET', `/admin/audit${query}`);
  return print(ctx, res, () => {
    const cols = ['seq', 'time', 'action', 'decision', 'actor', 'agent', 'user', 'provider', 'reason'] as const;
    const rows = res.items.map((r) => cols.map((c) => r[c] as string | number | undefined));
    const body = res.items.length === 0 ? 'no audit records match' : table([...cols], rows);
    return res.next === undefined ? body : `${body}\nmore: --cursor ${res.next}`;
  });
}

interface ChainReport {
  chain: number;
  ok: boolean;
  records: number;
  head?: { seq: number };
  floor?: { seq: number };
  firstBroken?: { seq: number; reason: string };
  checkpoint: { seq: number; hash: string; time: string } | null;
  afterCheckpoint: number;
}

interface VerifyReport {
  ok: boolean;
  records: number;
  chains: ChainReport[];
}

async function auditVerify(ctx: Ctx): Promise<number> {
  const res = await callJson<VerifyReport>(ctx.conn, 'GET', '/admin/audit/verify');
  print(ctx, res, () => {
    const rows = res.chains.map((c) => [
      c.chain,
      c.ok ? 'ok' : `BROKEN at seq ${c.firstBroken?.seq} (${c.firstBroken?.reason})`,
      c.records,
      c.head?.seq ?? '-',
      c.floor?.seq ?? '-',
      c.checkpoint ? `seq ${c.checkpoint.seq} (${c.checkpoint.time})` : 'none yet',
      c.afterCheckpoint,
    ]);
    const broken = res.chains.filter((c) => !c.ok).length;
    const summary = res.ok
      ? `audit trail OK: ${res.records} records verified in ${res.chains.length} chains`
      : `audit trail BROKEN in ${broken} of ${res.chains.length} chains; ${res.records} records verified`;
    return `${summary}\n${table(['chain', 'status', 'records', 'head', 'trimmed to', 'checkpoint', 'after checkpoint'], rows)}`;
  });
  return res.ok ? 0 : 3;
}

async function auditExport(ctx: Ctx): Promise<number> {
  const qs = new URLSearchParams();
  if (ctx.values.chain !== undefined) qs.set('chain', ctx.values.chain);
  if (ctx.values['from-seq'] !== undefined) qs.set('fromSeq', ctx.values['from-seq']);
  const res = await callAdmin(ctx.conn, 'GET', `/admin/audit/export${qs.size > 0 ? `?${qs}` : ''}`, { out: ctx.io.out });
  if (res.status === 200) return 0;
  // Errors come back as JSON; let callJson's parsing name them.
  let e: { error?: string; error_description?: string } = {};
  try {
    e = JSON.parse(res.body) as typeof e;
  } catch {}
  throw new ApiError(e.error ?? `http_${res.status}`, e.error_description ?? '', res.status);
}

interface KeyStatus {
  sealed: boolean;
  kek: { ids: string[]; active: string | null };
  signing: { active: string; previous: string[] };
  rewrap?: RewrapState | null;
}

function rewrapText(r: RewrapState): string {
  const head =
    `rewrap to KEK ${r.activeKeyId}: ${r.done ? 'done' : 'in progress'}; scanned ${r.scanned}, rewrapped ${r.rewrapped}, ` +
    `already on the key ${r.alreadyActive}, raced ${r.raced}, failed ${r.failed.length} (${r.updatedAt})`;
  if (r.failed.length === 0) return head;
  return `${head}\n${table(
    ['failed grant', 'reason'],
    r.failed.map((f) => [f.grantId, f.reason]),
  )}`;
}

async function keysShow(ctx: Ctx, method: string, path: string): Promise<number> {
  const res = await callJson<KeyStatus>(ctx.conn, method, path);
  return print(ctx, res, () => {
    const lines = [
      `sealed:           ${res.sealed ? 'YES (global kill switch)' : 'no'}`,
      `KEKs:             ${res.kek.ids.join(', ') || '-'}${res.kek.active ? ` (active ${res.kek.active})` : ''}`,
      `signing key:      ${res.signing.active}`,
      `previous signing: ${res.signing.previous.join(', ') || '-'}`,
    ];
    if (res.rewrap !== undefined) lines.push(res.rewrap === null ? 'rewrap:           never run' : rewrapText(res.rewrap));
    return lines.join('\n');
  });
}

async function keysRewrap(ctx: Ctx): Promise<number> {
  const pageSize = positiveInt('page-size', ctx.values['page-size']);
  const maxPages = positiveInt('max-pages', ctx.values['max-pages']);
  const body = {
    ...(pageSize !== undefined && { pageSize }),
    ...(maxPages !== undefined && { maxPages }),
    ...(ctx.values.restart && { restart: true }),
  };
  const res = await callJson<RewrapState>(ctx.conn, 'POST', '/admin/keys/rewrap', body);
  return print(ctx, res, () => rewrapText(res));
}
