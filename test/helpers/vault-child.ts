/** Starts test/helpers/vault-process.ts as a real child process with a given raw config. */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export interface VaultChild {
  /** The child's process id (names its Redis connections, see `subscriberName`). */
  pid: number;
  internalUrl: string;
  publicUrl: string;
  /** Everything the child logged (stderr). */
  logs(): string;
  stop(): Promise<void>;
  /** Ends the child with `signal` (SIGKILL: no shutdown at all) and resolves once it has exited. */
  kill(signal: NodeJS.Signals): Promise<void>;
  /** SIGSTOP / SIGCONT: a process that is alive but runs nothing (a long GC pause, a starved VM). */
  pause(): void;
  resume(): void;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Default start-up deadline: a loaded 2-vCPU box starting several children at once needs this much. */
const START_TIMEOUT_MS = 90_000;

export async function startVaultChild(
  rawConfig: Record<string, unknown>,
  dir: string,
  name = 'vault-b',
  startTimeoutMs = START_TIMEOUT_MS,
): Promise<VaultChild> {
  const file = join(dir, `${name}.json`);
  await writeFile(file, JSON.stringify(rawConfig), { mode: 0o600 });
  const script = new URL('./vault-process.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', script, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const urls = await new Promise<{ publicUrl: string; internalUrl: string }>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    const timer = setTimeout(() => reject(new Error(`vault child did not start: ${stderr.slice(0, 2000)}`)), startTimeoutMs);
    // The runtime may log to stdout before listening (the audit mirror, archive warnings): the URLs are the line that names them.
    const onLine = (line: string) => {
      const parsed = JSON.parse(line) as { publicUrl?: string; internalUrl?: string };
      if (parsed.internalUrl === undefined || parsed.publicUrl === undefined) return;
      clearTimeout(timer);
      lines.off('line', onLine);
      resolve(parsed as { publicUrl: string; internalUrl: string });
    };
    lines.on('line', onLine);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`vault child exited with ${code}: ${stderr.slice(0, 2000)}`));
    });
  });
  return {
    pid: child.pid!,
    ...urls,
    logs: () => stderr,
    stop: () => end(child, 'SIGTERM'),
    kill: (signal) => end(child, signal),
    pause: () => child.kill('SIGSTOP'),
    resume: () => child.kill('SIGCONT'),
  };
}

function end(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
    child.kill(signal);
  });
}
