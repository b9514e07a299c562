/**
 * The load of one audit writer process in bench/audit-contention.ts: says `ready`, waits for `go` on
 * stdin, then `callers` concurrent callers each record events (naming one of 10,000 grants) for
 * `seconds`, one after another; prints the counts and the process's CPU time over the run as JSON.
 * Imports nothing, so the baseline's checkout runs the very same load (bench/audit-baseline-child.ts).
 */
export interface LoadCounts {
  ok: number;
  failed: number;
  reasons: Record<string, number>;
  cpuUs: number;
}

export async function runAuditLoad(
  record: (event: { action: 'token.exchange'; decision: 'allow'; requestId: string; grant: string }) => Promise<unknown>,
  callers: number,
  seconds: number,
  extra: Record<string, unknown> = {},
): Promise<void> {
  const result: LoadCounts = { ok: 0, failed: 0, reasons: {}, cpuUs: 0 };
  process.stdout.write('ready\n');
  await new Promise((r) => process.stdin.once('data', r));
  const cpu = process.cpuUsage();
  const end = Date.now() + seconds * 1000;
  let n = 0;
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (Date.now() < end) {
        try {
          await record({ action: 'token.exchange', decision: 'allow', requestId: `${process.pid}-${n++}`, grant: `g-${Math.floor(Math.random() * 10_000)}` });
          result.ok++;
        } catch (e) {
          result.failed++;
          const k = (e as Error).name;
          result.reasons[k] = (result.reasons[k] ?? 0) + 1;
        }
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  result.cpuUs = used.user + used.system;
  process.stdout.write(`${JSON.stringify({ ...result, ...extra })}\n`);
}
