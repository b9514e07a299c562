/**
 * `npx tsx scripts/newcomer-time.ts [--cold] [--repo <path or URL>]`: how long a newcomer needs
 * from `git clone` to the first call forwarded by the vault, following only the README's
 * "Try the whole path" section, phase by phase. In a temporary directory: `git clone` (this
 * checkout's committed HEAD by default), `npm install` (with `--cold`, into an empty npm cache:
 * every package is downloaded), `npm run dev` until its banner, the browser steps in headless
 * Chromium (sign in as alice, link the Demo CRM, tick "Read your CRM contacts"), then
 * `npm run demo -- call crm:contacts.read GET /contacts` until the CRM's answer is printed.
 * Dev mode runs on free ports (announced through TOKEN_VAULT_PUBLIC_PORT and
 * TOKEN_VAULT_INTERNAL_PORT, as the README says) so a vault already on 8443 does not interfere.
 * Installs packages: never part of `npm test`.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { launchChromium } from '../test/helpers/chromium.js';
import { consentDemoAgent, signInAndLinkCrm } from '../test/helpers/dev-browser.js';
import { devPorts, portsEnv, type DevPorts } from '../test/helpers/dev-process.js';

let dev: ReturnType<typeof spawn> | undefined;
const { values } = parseArgs({ options: { cold: { type: 'boolean', default: false }, repo: { type: 'string' } } });
const repo = values.repo ?? fileURLToPath(new URL('..', import.meta.url));

/** Runs a command to completion; rejects with its output when it fails. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(output) : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${output}`))));
  });
}

const devEnv = (ports: DevPorts) => ({ ...process.env, ...portsEnv(ports), TOKEN_VAULT_METRICS_PORT: '0' });

/** `npm run dev` in its own process group (npm, its shell and dev mode stop together): 'ready' at its banner, else its output. */
function startDev(cwd: string, ports: DevPorts): Promise<'ready' | string> {
  dev = spawn('npm', ['run', 'dev'], { cwd, env: devEnv(ports), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve) => {
    let output = '';
    const seen = (c: Buffer) => {
      output += c.toString();
      if (output.includes('curl --cert')) resolve('ready');
    };
    dev!.stdout!.on('data', seen);
    dev!.stderr!.on('data', seen);
    dev!.on('exit', () => resolve(output));
  });
}

const phases: [string, number][] = [];
let mark = performance.now();
/** Ends a phase and prints it at once (a later failure keeps what was measured). */
function phase(name: string): void {
  const now = performance.now();
  phases.push([name, (now - mark) / 1000]);
  process.stdout.write(`${((now - mark) / 1000).toFixed(1).padStart(7)} s  ${name}\n`);
  mark = now;
}

const work = await mkdtemp(join(tmpdir(), 'tv-newcomer-'));
const clone = join(work, 'token-vault');

let browser: Awaited<ReturnType<typeof launchChromium>> | undefined;
const load = loadavg().map((l) => l.toFixed(2));
try {
  await run('git', ['clone', '--quiet', repo, clone], work);
  phase('git clone');
  await run('npm', ['install', ...(values.cold ? ['--cache', join(work, 'npm-cache')] : [])], clone);
  phase(`npm install (${values.cold ? 'empty npm cache' : 'npm cache as found'})`);

  // Free ports only now (npm install takes minutes), and new ones if another process took one meanwhile.
  let ports = await devPorts();
  for (let attempt = 1; ; attempt++) {
    const started = await startDev(clone, ports);
    if (started === 'ready') break;
    if (attempt === 3 || !started.includes('EADDRINUSE')) throw new Error(`npm run dev exited:\n${started}`);
    ports = await devPorts();
  }
  phase('npm run dev until its banner (dev keys generated)');

  browser = await launchChromium();
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  const base = `https://127.0.0.1:${ports.public}`;
  await signInAndLinkCrm(page, base);
  if (!(await consentDemoAgent(page, base, /Read your CRM contacts/))) throw new Error('the consent did not stick');
  phase('browser: sign in, link Demo CRM, tick Read your CRM contacts');

  const answer = await run('npm', ['run', 'demo', '--', 'call', 'crm:contacts.read', 'GET', '/contacts'], clone, devEnv(ports));
  if (!answer.includes('"user": "alice"')) throw new Error(`the forwarded call did not answer as alice:\n${answer}`);
  phase('npm run demo -- call crm:contacts.read GET /contacts');
} finally {
  await browser?.close();
  if (dev?.pid) process.kill(-dev.pid, 'SIGTERM');
  await rm(work, { recursive: true, force: true, maxRetries: 3 });
}

const total = phases.reduce((sum, [, s]) => sum + s, 0);
process.stdout.write(`${total.toFixed(1).padStart(7)} s  clone to first forwarded call (load average at start: ${load.join(' ')})\n`);
