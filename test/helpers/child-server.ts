/**
 * Lifecycle of the private servers tests start (redis-server.ts, postgres-server.ts): no orphan
 * survives the test process. Live servers are SIGKILLed on `exit`, and a detached shell watchdog
 * kills each one (and removes its dir) if the test process dies without running exit handlers.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();

process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Tracks a started server: killed with the test process, however that ends. */
export function supervise(child: ChildProcess, dir: string): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (child.pid === undefined) return;
  // Exits by itself once the server is gone, so a recycled pid is never signalled.
  const script = 'while kill -0 "$1" 2>/dev/null; do kill -0 "$2" 2>/dev/null || exit 0; sleep 1; done; kill -9 "$2"; rm -rf "$3"';
  spawn('sh', ['-c', script, 'watchdog', String(process.pid), String(child.pid), dir], { detached: true, stdio: 'ignore' }).unref();
}

/** Signals the server and resolves once it exited; SIGKILL after `graceMs`. A paused server is continued first. */
export async function terminate(child: ChildProcess, signal: NodeJS.Signals, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  if (signal !== 'SIGKILL') child.kill('SIGCONT');
  const escalate = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(escalate);
}
