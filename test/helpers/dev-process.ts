/**
 * Runs the real `npm run dev` entry point (src/dev.ts) in a directory of the
 * caller's choice, on the given ports, and resolves once it printed its banner.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const devEntry = fileURLToPath(new URL('../../src/dev.ts', import.meta.url));

export interface DevProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
}

export async function startDevProcess(cwd: string, ports: { public: number; internal: number }): Promise<DevProcess> {
  let output = '';
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), devEntry], {
    cwd,
    env: { PATH: process.env.PATH ?? '', TOKEN_VAULT_PUBLIC_PORT: String(ports.public), TOKEN_VAULT_INTERNAL_PORT: String(ports.internal) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dev mode did not start:\n${output}`)), 30_000);
    const check = setInterval(() => {
      if (output.includes('curl --cert')) {
        clearInterval(check);
        clearTimeout(timer);
        resolve();
      }
    }, 50);
    child.on('exit', () => reject(new Error(`dev mode exited:\n${output}`)));
  });
  return { child, output: () => output };
}
