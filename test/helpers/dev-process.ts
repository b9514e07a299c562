/**
 * Runs the real `npm run dev` entry point (src/dev/dev.ts) in a directory of the
 * caller's choice, on free ports, and resolves once it printed its banner; and
 * the real `npm run demo` entry point (src/dev/demo/cli.ts) against it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './free-port.js';

const devEntry = fileURLToPath(new URL('../../src/dev/dev.ts', import.meta.url));
const demoEntry = fileURLToPath(new URL('../../src/dev/demo/cli.ts', import.meta.url));

export interface DevProcess {
  child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  ports: DevPorts;
  /**
   * SIGTERM, then resolves once the process has exited (SIGKILL after 10 s): its shutdown still
   * writes into its directory (the audit checkpoint, src/app.ts close), so the directory may be
   * removed only after.
   */
  stop(): Promise<void>;
}

export interface DevPorts {
  public: number;
  internal: number;
}

/** A public port whose two successors (the demo IdP and CRM) are free too, and an internal port. */
export async function devPorts(): Promise<DevPorts> {
  return { public: await freePort({ alsoFree: [1, 2] }), internal: await freePort() };
}

/**
 * Dev mode on free ports. Ports are only free "a moment ago" and other suites may run
 * alongside, so a start that lost a port race (EADDRINUSE) is retried on new ports.
 */
export async function startDevProcess(cwd: string): Promise<DevProcess> {
  for (let attempt = 1; ; attempt++) {
    const ports = await devPorts();
    try {
      return await startOn(cwd, ports);
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('EADDRINUSE')) throw err;
    }
  }
}

async function startOn(cwd: string, ports: DevPorts): Promise<DevProcess> {
  let output = '';
  const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), devEntry], {
    cwd,
    env: portsEnv(ports),
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
  return { child, output: () => output, ports, stop: () => stopProcess(child) };
}

function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export const portsEnv = (ports: DevPorts) => ({
  PATH: process.env.PATH ?? '',
  TOKEN_VAULT_PUBLIC_PORT: String(ports.public),
  TOKEN_VAULT_INTERNAL_PORT: String(ports.internal),
  TOKEN_VAULT_METRICS_PORT: '0',
});

export interface DemoRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `npm run demo -- <args>` in `cwd` (where dev mode runs), as the banner tells a newcomer; resolves when it exits. */
export function runDemo(cwd: string, ports: DevPorts, args: string[]): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), demoEntry, ...args], {
      cwd,
      env: portsEnv(ports),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The pretty-printed JSON answer of the last request a demo run printed (lines `  < …` after the blank `  <`). */
export function lastDemoAnswer(stdout: string): unknown {
  const blocks = stdout.split('\n  <\n').slice(1);
  const body = blocks.at(-1)!.split('\n\n')[0]!;
  return JSON.parse(
    body
      .split('\n')
      .map((line) => line.replace(/^ {2}< /, ''))
      .join('\n'),
  );
}
