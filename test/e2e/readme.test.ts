/**
 * README.md is executable. Every fenced block is run here against `npm run dev`, checked against
 * the code it describes, or listed in NOT_RUN with the reason; the last test fails on any block
 * (or any line of a shell block) this file does not account for, so the README cannot drift from
 * dev mode. Shell commands run verbatim in bash, in a throwaway checkout (package.json,
 * node_modules, src, scripts linked from this repository; keys/dev/ generated there, as in a fresh
 * clone), with two changes a vault beside others needs: the README's ports (8443, 9443, 9464, and
 * the OTLP collector's 4318) become free ones (the TOKEN_VAULT_*_PORT variables the README names)
 * in what is run and back in what is printed, and placeholders (`<grant-id>`) are filled in. Dev
 * mode starts with the Tracing section's variables, `npm run dev` in place of `npm start` (which
 * needs a build, a production config and Redis; src/dev/dev.ts reads the same variables). The browser steps run in
 * headless Chromium (test/helpers/dev-browser.ts). Transcripts go to test-output/readme/.
 */
import { WEBHOOK_EVENTS } from '../../src/config/webhooks.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { appendFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/chromium.js';
import { approveDeepLink, consentDemoAgent, signInAndLinkCrm } from '../helpers/dev-browser.js';
import { devPorts, lastDemoAnswer } from '../helpers/dev-process.js';
import { freePort } from '../helpers/free-port.js';
import { call } from '../helpers/https-client.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, 'test-output', 'readme');
const TRANSCRIPT = join(OUT, 'commands.txt');
const DEMO_AGENT = 'spiffe://dev.local/agents/demo';
/** The vault's id of a request (its x-request-id header, log lines and audit record). */
const REQUEST_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Block {
  section: string;
  lang: string;
  text: string;
}

/** Every fenced block of README.md with the `##`/`###` heading it sits under. */
function readmeBlocks(): Block[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const blocks: Block[] = [];
  let section = '';
  for (let i = 0; i < lines.length; i++) {
    const heading = /^#{2,3} (.+)$/.exec(lines[i]!);
    if (heading) section = heading[1]!;
    const fence = /^```(\w*)$/.exec(lines[i]!);
    if (!fence) continue;
    const start = i + 1;
    while (lines[++i] !== '```') if (i >= lines.length) throw new Error(`README.md: unclosed fence at line ${start}`);
    blocks.push({ section, lang: fence[1]!, text: lines.slice(start, i).join('\n') });
  }
  return blocks;
}
const BLOCKS = readmeBlocks();

/** A command as this file names it: without its trailing `# comment` (bash drops it anyway). */
const bare = (command: string) => command.replace(/\s+# .*$/, '').trim();

/** The commands of a `sh` block: one a line, backslash continuations kept together. */
const shellCommands = (text: string) =>
  text
    .split(/(?<!\\)\n/)
    .filter((line) => line.trim() !== '')
    .map(bare);

const blocksOf = (section: string, lang: string) => BLOCKS.filter((b) => b.section === section && b.lang === lang);
const commandsOf = (section: string) => blocksOf(section, 'sh').flatMap((b) => shellCommands(b.text));

/** Blocks and commands deliberately not run, and why. Keys are exact README text. */
const NOT_RUN: Record<string, string> = {
  'npm install && npm run dev': 'installs packages into node_modules; the npm run dev half is what this file starts (scripts/newcomer-time.ts times both)',
  'npm test': 'the whole suite, this file included',
  'npm run admin -- webhooks redeliver <delivery-id>':
    'dev mode configures no webhook endpoint, so there is no delivery to send again; test/integration/webhooks/delivery.test.ts runs it against a receiving endpoint',
};

/** What this file did with each README block or command (command text, or `lang:text` for other blocks). */
const accounted = new Map<string, string>();
const account = (key: string, how: string) => accounted.set(key, how);

let clone: string;
let ports: { public: number; internal: number; metrics: number; otlp: number };
let collector: Collector;
let env: NodeJS.ProcessEnv;
let dev: ChildProcess;
let devOutput = '';
let browser: Browser;
let page: Page;
let base: string;

/** The README's ports in `text` replaced by this vault's (`back`: the other way). */
function portsIn(text: string, back = false): string {
  const pairs: [number, number][] = [
    [8443, ports.public],
    [9443, ports.internal],
    [9464, ports.metrics],
    [4318, ports.otlp],
  ];
  return pairs.reduce(
    (t, [readme, ours]) => (back ? t.replaceAll(`127.0.0.1:${ours}`, `127.0.0.1:${readme}`) : t.replaceAll(`127.0.0.1:${readme}`, `127.0.0.1:${ours}`)),
    text,
  );
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One README command in bash in the checkout; placeholders filled from `fill`, variables from `vars`. */
async function sh(command: string, options: { fill?: Record<string, string>; vars?: Record<string, string> } = {}): Promise<Run> {
  let text = portsIn(command);
  for (const [placeholder, value] of Object.entries(options.fill ?? {})) text = text.replaceAll(placeholder, value);
  const run = await new Promise<Run>((resolve, reject) => {
    const child = spawn('bash', ['-c', text], { cwd: clone, env: { ...env, ...options.vars }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: portsIn(stdout, true), stderr: portsIn(stderr, true) }));
  });
  await appendFile(TRANSCRIPT, `$ ${command}\n${run.stdout}${run.stderr}[exit ${run.code}]\n\n`);
  account(bare(command), 'run');
  return run;
}

/** The one README command of `section` that starts with `prefix`. */
function command(section: string, prefix: string): string {
  const found = commandsOf(section).filter((c) => c.startsWith(prefix));
  expect(found, `README "${section}": one command starting ${prefix}`).toHaveLength(1);
  return found[0]!;
}

beforeAll(async () => {
  await mkdir(OUT, { recursive: true });
  await writeFile(TRANSCRIPT, '');
  clone = await mkdtemp(join(tmpdir(), 'tv-readme-'));
  for (const entry of ['package.json', 'node_modules', 'src', 'scripts', 'tsconfig.json']) await symlink(join(ROOT, entry), join(clone, entry));
  collector = await startCollector();
  ports = { ...(await devPorts()), metrics: await freePort(), otlp: collector.port };
  env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? clone,
    npm_config_update_notifier: 'false',
    TOKEN_VAULT_PUBLIC_PORT: String(ports.public),
    TOKEN_VAULT_INTERNAL_PORT: String(ports.internal),
    TOKEN_VAULT_METRICS_PORT: String(ports.metrics),
    // The admin CLI's default is the dev vault on 9443; the README names this variable for another URL.
    TOKEN_VAULT_ADMIN_URL: `https://127.0.0.1:${ports.internal}`,
  };
  base = `https://127.0.0.1:${ports.public}`;

  // "Two commands": the npm run dev half of the first line, in its own process group (npm, bash, node).
  const first = commandsOf('Two commands')[0]!;
  expect(first.split(' && ')[1]).toBe('npm run dev');
  // "Tracing": its command with npm run dev for npm start.
  const tracing = commandsOf('Tracing');
  expect(tracing).toHaveLength(1);
  expect(tracing[0]!.endsWith(' npm start')).toBe(true);
  const devCommand = portsIn(tracing[0]!.replace(/ npm start$/, ' npm run dev'));
  account(tracing[0]!, 'run with npm run dev in place of npm start');
  dev = spawn('bash', ['-c', devCommand], { cwd: clone, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`npm run dev did not print its banner:\n${devOutput}`)), 90_000);
    const seen = (c: Buffer) => {
      devOutput += c.toString();
      if (devOutput.includes('curl --cert')) {
        clearTimeout(timer);
        resolve();
      }
    };
    dev.stdout!.on('data', seen);
    dev.stderr!.on('data', seen);
    dev.on('exit', () => reject(new Error(`npm run dev exited:\n${devOutput}`)));
  });
  browser = await launchChromium();
  page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  if (dev?.pid) process.kill(-dev.pid, 'SIGTERM');
  await writeFile(join(OUT, 'dev-output.txt'), devOutput);
  await rm(clone, { recursive: true, force: true, maxRetries: 3 });
  await collector?.close();
});

describe('README.md against npm run dev', () => {
  it('Two commands: dev mode prints the demo commands of the README, and the healthz curl answers', async () => {
    const banner = portsIn(devOutput, true);
    for (const line of commandsOf('The demo gateway (npm run demo)')) expect(banner).toContain(`\n   ${line}\n`);
    const healthz = await sh(command('Two commands', 'curl '));
    expect(healthz).toMatchObject({ code: 0, stdout: '{"status":"ok"}' });
  });

  it('Try the whole path, in the browser: sign in as alice, link the Demo CRM, tick Read your CRM contacts', async () => {
    await signInAndLinkCrm(page, base);
    expect(await consentDemoAgent(page, base, /Read your CRM contacts/)).toBe(true);
    await page.screenshot({ path: join(OUT, 'read-consented.png'), fullPage: true });
  }, 90_000);

  it('the demo gateway calls the CRM through /forward, and the metrics command shows the documented series', async () => {
    const read = await sh(command('The demo gateway (npm run demo)', 'npm run demo -- call crm:contacts.read'));
    expect(read).toMatchObject({ code: 0, stderr: '' });
    const answer = lastDemoAnswer(read.stdout) as { authenticatedAs: unknown; total: number };
    expect(answer.authenticatedAs).toStrictEqual({ user: 'alice', client: 'token-vault-dev', scope: expect.stringContaining('contacts.read') });
    expect(answer.total).toBe(5);

    const metrics = await sh(command('Operations', 'curl -s 127.0.0.1:9464/metrics'));
    expect(metrics.code).toBe(0);
    const scraped = new Map(
      metrics.stdout
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.lastIndexOf(' ')), line.slice(line.lastIndexOf(' ') + 1)]),
    );
    const [documented, ...others] = blocksOf('Operations', 'text');
    expect(others).toStrictEqual([]);
    for (const line of documented!.text.split('\n')) {
      const series = line.slice(0, line.lastIndexOf(' '));
      // A gauge of time since the last confirmation is never the same twice.
      const value = series === 'tv_kill_switch_snapshot_age_seconds' ? expect.any(String) : line.slice(line.lastIndexOf(' ') + 1);
      expect([series, scraped.get(series)]).toStrictEqual([series, value]);
    }
    account(`text:${documented!.text}`, 'each line found in the scrape of npm run dev after the first demo call');
  }, 60_000);

  let userToken = '';
  let agentToken = '';
  it('npm run demo -- tokens prints both tokens, with and without the optional flags', async () => {
    const documented = command('The demo gateway (npm run demo)', 'npm run demo -- tokens');
    expect(documented).toBe('npm run demo -- tokens [--user alice] [--agent demo]');
    for (const form of [documented.replace(/ \[[^\]]*\]/g, ''), documented.replace(/[[\]]/g, '')]) {
      const run = await sh(form);
      expect(run).toMatchObject({ code: 0, stderr: '' });
      userToken = /export USER_TOKEN=(\S+)\n/.exec(run.stdout)![1]!;
      agentToken = /export AGENT_TOKEN=(\S+)\n/.exec(run.stdout)![1]!;
    }
    account(documented, 'run without the optional flags and with them');
  }, 60_000);

  it('npm run demo -- exchange answers the operation token the Gateways section shows', async () => {
    const run = await sh(command('The demo gateway (npm run demo)', 'npm run demo -- exchange'));
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const [json] = blocksOf('Gateways', 'json');
    expect(lastDemoAnswer(run.stdout)).toStrictEqual({ ...(JSON.parse(json!.text) as object), access_token: expect.stringMatching(/^eyJ/) });
  }, 60_000);

  it('The same with curl: the exchange, then the forward once; again it is refused; the write scope is consent_required as shown', async () => {
    const [exchange, forward, ...others] = commandsOf('The same with curl');
    expect(others).toStrictEqual([]);
    const vars = { USER_TOKEN: userToken, AGENT_TOKEN: agentToken };
    const issued = await sh(exchange!, { vars });
    expect(issued.code).toBe(0);
    const token = (JSON.parse(issued.stdout) as { access_token: string }).access_token;

    const first = await sh(forward!, { vars: { ...vars, OPERATION_TOKEN: token } });
    expect(first.code).toBe(0);
    expect(JSON.parse(first.stdout)).toMatchObject({
      authenticatedAs: { user: 'alice', client: 'token-vault-dev' },
      contact: { id: '1', owner: 'alice' },
    });
    const again = await sh(forward!, { vars: { ...vars, OPERATION_TOKEN: token } });
    expect(JSON.parse(again.stdout)).toStrictEqual({
      error: 'invalid_token',
      error_description: 'The access token is invalid, expired or not usable for this request.',
      request_id: expect.stringMatching(REQUEST_ID),
    });

    const section = /\n### The same with curl\n([\s\S]*?)\n## /.exec(readFileSync(join(ROOT, 'README.md'), 'utf8'))![1]!;
    const shown = /`(\{"error":"consent_required"[^`]*)`/.exec(section)![1]!;
    const write = await sh(exchange!.replace('scope=crm:contacts.read', 'scope=crm:contacts.write'), { vars });
    expect(write.code).toBe(0);
    expect(JSON.parse(write.stdout)).toStrictEqual(shownAnswer(JSON.parse(shown) as Record<string, string>));
  }, 60_000);

  it('npm run demo -- call for a write: consent_required with the deep link, Approve in the browser, then 201', async () => {
    const writeCommand = command('The demo gateway (npm run demo)', 'npm run demo -- call crm:contacts.write');
    const refused = await sh(writeCommand);
    expect(refused.code).toBe(0);
    const deepLink = `https://127.0.0.1:8443/connections/crm?agent=${encodeURIComponent(DEMO_AGENT)}&operation=${encodeURIComponent('crm:contacts.write')}`;
    expect(lastDemoAnswer(refused.stdout)).toMatchObject({ error: 'consent_required', error_uri: deepLink });
    expect(await approveDeepLink(page, base, portsIn(deepLink), /Create and change your CRM contacts/)).toBe(true);

    const written = await sh(writeCommand);
    expect(written).toMatchObject({ code: 0, stderr: '' });
    expect(written.stdout).toContain('< HTTP/1.1 201 Created');
    expect(lastDemoAnswer(written.stdout)).toMatchObject({ contact: { id: '6', firstName: 'Test', lastName: 'Person', owner: 'alice' } });
  }, 90_000);

  it('Gateways: the two documented requests, sent to the dev vault, answer the documented JSON and the CRM contact', async () => {
    const [exchange, forward, ...others] = blocksOf('Gateways', 'http');
    expect(others).toStrictEqual([]);
    const client = await gatewayClient();
    const send = (block: Block, fill: Record<string, string>) => {
      let text = block.text;
      for (const [placeholder, value] of Object.entries(fill)) text = text.replaceAll(placeholder, value);
      const [head, body] = text.split('\n\n') as [string, string | undefined];
      const [requestLine, ...headerLines] = head.split('\n');
      const [method, target] = requestLine!.split(' ') as [string, string];
      const headers = Object.fromEntries(headerLines.map((h) => [h.slice(0, h.indexOf(':')), h.slice(h.indexOf(':') + 1).trim()]));
      // The README's host is a production name; the dev vault answers to its own (src/forward checks Host).
      headers.Host = `127.0.0.1:${ports.internal}`;
      return call(`https://127.0.0.1:${ports.internal}${target}`, { method, headers, ...(body === undefined ? {} : { body }), ...client });
    };
    const step1 = await send(exchange!, { '<user JWT>': userToken, '<agent JWT>': agentToken });
    expect(step1.status).toBe(200);
    const answer = step1.json<{ access_token: string }>();
    expect(answer).toStrictEqual({ ...(JSON.parse(blocksOf('Gateways', 'json')[0]!.text) as object), access_token: expect.stringMatching(/^eyJ/) });
    const step2 = await send(forward!, { '<operation token>': answer.access_token });
    expect(step2.status).toBe(200);
    expect(step2.json()).toMatchObject({ authenticatedAs: { user: 'alice' }, contact: { id: '1' } });
    for (const block of [exchange!, forward!, blocksOf('Gateways', 'json')[0]!]) account(`${block.lang}:${block.text}`, 'sent to npm run dev');
  });

  it('Admin API and CLI: every command runs against the dev vault with the dev admin certificate', async () => {
    // What each command prints in dev mode at this point (the grant is alice's Demo CRM link).
    const printed: [string, RegExp][] = [
      ['grants ', /^\S+ +http:\/\/127\.0\.0\.1:\d+#alice +crm +active +spiffe:\/\/dev\.local\/agents\/demo /m],
      ['revoke <grant-id>', /^revoked grant \S+ \(an already revoked grant gets the same answer\)$/m],
      ['revoke --agent', /^revoked every grant of agent spiffe:\/\/dev\.local\/agents\/demo$/m],
      ['kills', /^no kill switch engaged/m],
      ['kill agent', /^engaged agent spiffe:\/\/dev\.local\/agents\/demo /m],
      ['unkill agent', /^released agent spiffe:\/\/dev\.local\/agents\/demo /m],
      ['audit --agent', /^\d+ +\S+ +token\.exchange +deny +- +spiffe:\/\/dev\.local\/agents\/demo /m],
      ['audit verify', /^audit trail OK: \d+ records verified in 16 chains$/m],
      ['audit export', /^$/],
      ['keys &&', /^rewrap: +never run$[\s\S]*^ {2}"done": true,$/m],
      ['webhooks --status dead', /^no webhook deliveries match$/m],
    ];
    const commands = commandsOf('Admin API and CLI').filter((c) => !(c in NOT_RUN));
    const outputs: Run[] = [];
    let grantId = '';
    for (const cmd of commands) {
      const run = await sh(cmd, { fill: { '<grant-id>': grantId } });
      expect([cmd, run.code, run.stderr]).toStrictEqual([cmd, 0, '']);
      const expected = printed.filter(([part]) => cmd.includes(` ${part}`));
      expect(expected, `what "${cmd}" prints`).toHaveLength(1);
      expect(run.stdout).toMatch(expected[0]![1]);
      outputs.push(run);
      // `grants` prints a table: a header line starting ID, then one grant a line, its id first.
      if (cmd.includes(' grants ')) grantId = /^ID .*\n(\S+) /m.exec(run.stdout)?.[1] ?? 'no grant listed';
    }
    await writeFile(join(OUT, 'admin-outputs.json'), JSON.stringify(outputs, null, 2));
    const exported = (await readFile(join(clone, 'audit.jsonl'), 'utf8')).trim().split('\n');
    expect(exported.length).toBeGreaterThan(5);
    // Only JSON lines: chain by chain, each from its first record, each record linked to the one before in its chain.
    const records = exported.map((line) => JSON.parse(line) as { chain: number; seq: number; prev: string; hash: string });
    const chains = [...new Set(records.map((r) => r.chain))];
    expect(chains.length).toBeGreaterThan(1);
    for (const chain of chains) {
      const own = records.filter((r) => r.chain === chain);
      own.forEach((record, i) =>
        expect(record).toStrictEqual({
          chain,
          seq: i + 1,
          prev: own[i - 1]?.hash ?? '',
          hash: expect.any(String),
          time: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/),
          body: expect.any(String),
        }),
      );
    }
  }, 180_000);

  it('Tracing: dev mode started with the documented variables exports the span of a request the caller sampled', async () => {
    expect(devOutput).toContain('tracing:   on (OTLP, from the OTEL_* variables)');
    // The ratio sampler keeps 1 trace in 10; a sampled traceparent (flags 01) is kept by parentbased_*.
    const traceId = randomBytes(16);
    const res = await call(`https://127.0.0.1:${ports.internal}/healthz`, {
      headers: { traceparent: `00-${traceId.toString('hex')}-${randomBytes(8).toString('hex')}-01` },
      ...(await gatewayClient()),
    });
    expect(res.status).toBe(200);
    // OTLP/HTTP protobuf (the default protocol) carries the trace id as its 16 raw bytes; the batch goes out within OTEL_BSP_SCHEDULE_DELAY (5 s).
    await expect.poll(() => collector.received.some((r) => r.path === '/v1/traces' && r.body.includes(traceId)), { timeout: 30_000, interval: 250 }).toBe(true);
  }, 45_000);

  it('Webhooks: the payload examples are one JSON event a line, one of each type the configuration accepts', () => {
    const [examples, ...others] = blocksOf('Webhooks', 'json');
    expect(others).toStrictEqual([]);
    const events = examples!.text.split('\n').map((line) => JSON.parse(line) as { type: string; timestamp: string; data: object });
    for (const event of events) {
      expect(Object.keys(event)).toStrictEqual(['type', 'timestamp', 'data']);
      expect(new Date(event.timestamp).toISOString()).toBe(event.timestamp);
    }
    expect(events.map((e) => e.type).sort()).toStrictEqual([...WEBHOOK_EVENTS].sort());
    account(`json:${examples!.text}`, 'parsed; event types checked against src/config/webhooks.ts');
  });

  it('Layout: every path the map names exists', () => {
    const [layout, ...others] = blocksOf('Layout', '');
    expect(others).toStrictEqual([]);
    const paths = [...layout!.text.matchAll(/(?<![\w/])((?:src|test|docs|deploy|bench|scripts)\/[\w./-]*)/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(20);
    expect(paths.filter((path) => !existsSync(join(ROOT, path)))).toStrictEqual([]);
    account(`:${layout!.text}`, 'paths checked');
  });

  it('every fenced block of README.md, and every line of its shell blocks, is accounted for above', () => {
    const unaccounted = BLOCKS.flatMap((block) =>
      block.lang === 'sh'
        ? shellCommands(block.text).filter((c) => !accounted.has(c) && !(c in NOT_RUN))
        : accounted.has(`${block.lang}:${block.text}`)
          ? []
          : [`${block.section}: ${block.lang} block`],
    );
    expect(unaccounted).toStrictEqual([]);
    const stale = Object.keys(NOT_RUN).filter((c) => !BLOCKS.some((b) => b.lang === 'sh' && shellCommands(b.text).includes(c)));
    expect(stale).toStrictEqual([]);
  });
});

/** The dev gateway certificate of the checkout, for node:https. */
async function gatewayClient() {
  const file = (name: string) => readFile(join(clone, 'keys/dev', name), 'utf8');
  return { ca: await file('ca.crt'), client: { cert: await file('gateway.crt'), key: await file('gateway.key') } };
}

interface Collector {
  port: number;
  /** Every request as received: path and raw body. */
  received: { path: string; body: Buffer }[];
  close(): Promise<void>;
}

/** An OTLP/HTTP collector stand-in that keeps raw bodies (protobuf is not decoded; ids are searched as bytes). */
async function startCollector(): Promise<Collector> {
  const received: Collector['received'] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A JSON answer as the README shows it: `…` stands for a part that differs per run; `request_id` is this request's. */
function shownAnswer(shown: Record<string, string>): Record<string, unknown> {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return Object.fromEntries(
    Object.entries(shown).map(([key, value]) => [
      key,
      key === 'request_id'
        ? expect.stringMatching(REQUEST_ID)
        : value.includes('…')
          ? expect.stringMatching(new RegExp(`^${value.split('…').map(escape).join('.+')}$`))
          : value,
    ]),
  );
}
