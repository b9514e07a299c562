/**
 * The README's "The same with curl" commands are executable: each `curl` is read from README.md,
 * its options turned into the request curl would send (placeholders filled in), and sent over the
 * dev gateway's mTLS connection to a vault published as the README's host, with the CRM API behind it.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_A } from '../../helpers/exchange-fixture.js';
import { rawRequest, startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';

let w: ForwardWorld;
let commands: string[][];

/** Shell words of one command: quotes, `$VAR` inside double quotes, backslash line continuations. */
function words(command: string, env: Record<string, string>): string[] {
  const out: string[] = [];
  for (const m of command.replace(/\\\n/g, ' ').matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)) {
    out.push(m[1] ?? m[3] ?? m[2]!.replace(/\$([A-Z_]+)/g, (_, name: string) => env[name] ?? `$${name}`));
  }
  return out;
}

/** The HTTP/1.1 request curl sends for these options (one per connection). */
function curlRequest(argv: string[]): { wire: string; certificate: string[] } {
  expect(argv[0]).toBe('curl');
  const headers: string[] = [];
  const form: string[] = [];
  const certificate: string[] = [];
  let url = '';
  for (let i = 1; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--cert' || arg === '--key' || arg === '--cacert') certificate.push(`${arg} ${argv[++i]}`);
    else if (arg === '-H') headers.push(argv[++i]!);
    else if (arg === '--data-urlencode') {
      const pair = argv[++i]!;
      const eq = pair.indexOf('=');
      form.push(`${pair.slice(0, eq)}=${encodeURIComponent(pair.slice(eq + 1))}`);
    } else if (arg.startsWith('https://')) url = arg;
    else throw new Error(`curl option not understood by this test: ${arg}`);
  }
  const target = new URL(url);
  const body = form.join('&');
  const lines = [
    `${body ? 'POST' : 'GET'} ${target.pathname}${target.search} HTTP/1.1`,
    `Host: ${target.host}`,
    ...headers,
    ...(body ? ['Content-Type: application/x-www-form-urlencoded', `Content-Length: ${Buffer.byteLength(body)}`] : []),
    'Connection: close',
  ];
  return { wire: `${lines.join('\r\n')}\r\n\r\n${body}`, certificate };
}

beforeAll(async () => {
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
  const section = /\n### The same with curl\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  commands = [...section.matchAll(/```sh\n([\s\S]*?)\n```/g)].map((m) => [m[1]!]);
  w = await startForwardWorld({ internalUrl: 'https://127.0.0.1:9443' });
});
afterAll(() => w?.close());

describe('README: Try the whole path, with curl', () => {
  it('documents an exchange and a forward, both on the dev gateway certificate', () => {
    expect(commands).toHaveLength(2);
    for (const [command] of commands) {
      expect(curlRequest(words(command!, {})).certificate).toStrictEqual([
        '--cert keys/dev/gateway.crt',
        '--key keys/dev/gateway.key',
        '--cacert keys/dev/ca.crt',
      ]);
    }
  });

  it('the exchange answers an operation token, which reaches the CRM once and is refused the second time', async () => {
    const env = { USER_TOKEN: await w.vault.ids.userToken('alice'), AGENT_TOKEN: await w.vault.ids.agentToken(AGENT_A) };
    const exchange = await rawRequest(w.vault, curlRequest(words(commands[0]![0]!, env)).wire);
    expect(exchange.status).toBe(200);
    const answer = JSON.parse(exchange.body) as { access_token: string; scope: string };
    expect(answer.scope).toBe('crm:contacts.read');

    const forward = curlRequest(words(commands[1]![0]!, { ...env, OPERATION_TOKEN: answer.access_token })).wire;
    const before = w.crm.requests.length;
    const first = await rawRequest(w.vault, forward);
    expect(first.status).toBe(200);
    expect(JSON.parse(first.body)).toStrictEqual({ method: 'GET', path: '/api/contacts/1', sub: 'alice', bytes: 0 });
    const again = await rawRequest(w.vault, forward);
    expect(again.status).toBe(401);
    expect(w.crm.requests.length - before).toBe(1);
  });
});
