/**
 * `npm run demo`: a small gateway against the vault of `npm run dev`, with
 * the dev gateway certificate (keys/dev/gateway.crt). It mints a user token
 * and an agent token with the demo issuers' keys (src/dev/demo/identities.ts),
 * runs the RFC 8693 exchange, and sends the real request through `/forward`,
 * printing every request, every answer and the curl line that does the same.
 * Dev only: never part of the production build.
 *
 *   npm run demo -- tokens [--user alice] [--agent demo]
 *   npm run demo -- exchange <scope> [--user …] [--agent …]
 *   npm run demo -- call <scope> <METHOD> <path> [--data JSON] [--user …] [--agent …]
 *
 * An operation that needs approval (crm:contacts.write.approved in dev mode) is asked again with
 * the exact request bound to it, then polled until the user decides on the consent site.
 *
 * The vault is found like dev mode finds its ports: TOKEN_VAULT_PUBLIC_PORT
 * (8443; the demo IdP is on the next port) and TOKEN_VAULT_INTERNAL_PORT
 * (9443), keys in keys/dev/ of the current directory.
 */
import { access } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DemoGateway, shellQuote, type Answer } from './gateway.js';
import { awaitApproval, boundDetail, needsBoundAction } from './approval.js';
import { agentId, DEMO_TOKEN_TTL_SECONDS, demoIssuers, demoSigner, mintAgentToken, mintUserToken } from './identities.js';

const KEYS = 'keys/dev';
const JWT_TYPE = 'urn:ietf:params:oauth:token-type:jwt';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'];

const USAGE = `usage: npm run demo -- <command> [options]

  tokens                                   print a user token and an agent token (valid ${DEMO_TOKEN_TTL_SECONDS / 60} min)
  exchange <scope>                         RFC 8693 token exchange for one operation, e.g. crm:contacts.read
  call <scope> <METHOD> <path> [--data J]  exchange, then the request through /forward, e.g. GET /contacts

options: --user <name> (default alice)  --agent <name or SPIFFE id> (default demo)  --data <JSON body>
env:     TOKEN_VAULT_PUBLIC_PORT (8443)  TOKEN_VAULT_INTERNAL_PORT (9443)`;

class UsageError extends Error {}
/** The demo cannot run here (no dev keys): the message says what to do; no usage. */
class NotReady extends Error {}

const out = (line = '') => process.stdout.write(`${line}\n`);
const heading = (text: string) => out(`── ${text} ${'─'.repeat(Math.max(3, 72 - text.length))}`);

interface Demo {
  publicPort: number;
  internalUrl: string;
  audience: string;
  issuers: ReturnType<typeof demoIssuers>;
  user: string;
  agent: string;
}

function portOf(name: string, fallback: number): number {
  const raw = process.env[name];
  const port = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`${name} is not a port: ${raw}`);
  return port;
}

function demoFrom(values: { user?: string | undefined; agent?: string | undefined }): Demo {
  const publicPort = portOf('TOKEN_VAULT_PUBLIC_PORT', 8443);
  return {
    publicPort,
    internalUrl: `https://127.0.0.1:${portOf('TOKEN_VAULT_INTERNAL_PORT', 9443)}`,
    // Dev mode's audience is its public URL (src/dev/dev.ts).
    audience: `https://127.0.0.1:${publicPort}`,
    issuers: demoIssuers(`http://127.0.0.1:${publicPort + 1}`),
    user: values.user ?? 'alice',
    agent: agentId(values.agent ?? 'demo'),
  };
}

async function mintTokens(demo: Demo): Promise<{ userToken: string; agentToken: string }> {
  const [idp, agents] = await Promise.all([demoSigner(KEYS, 'idp'), demoSigner(KEYS, 'agent')]);
  const userToken = await mintUserToken(idp, { issuer: demo.issuers.user, audience: demo.audience, sub: demo.user });
  const agentToken = await mintAgentToken(agents, { issuer: demo.issuers.agent, audience: demo.audience, sub: demo.agent });
  heading("1. identity tokens (minted here with the demo issuers' keys in keys/dev/)");
  out(`  user token:  sub ${demo.user}, iss ${demo.issuers.user} (the demo IdP), aud ${demo.audience}, ${DEMO_TOKEN_TTL_SECONDS / 60} min`);
  out(`  agent token: sub ${demo.agent}, iss ${demo.issuers.agent}, typ agent+jwt, ${DEMO_TOKEN_TTL_SECONDS / 60} min`);
  out('');
  out(`  export USER_TOKEN=${userToken}`);
  out(`  export AGENT_TOKEN=${agentToken}`);
  out('');
  return { userToken, agentToken };
}

function providerOf(scope: string): string {
  const provider = /^([a-z0-9][a-z0-9_-]*):[^\s:]+$/i.exec(scope)?.[1];
  if (!provider) throw new UsageError(`not an operation (<provider>:<operation>): ${scope}`);
  return provider;
}

type Exchanged = Answer & { identity: { userToken: string; agentToken: string } };

/** `detail`: the RFC 9396 entry binding the exact request (for operations that need approval), instead of `scope`. */
async function exchange(gateway: DemoGateway, demo: Demo, scope: string, detail?: string): Promise<Exchanged> {
  const provider = providerOf(scope);
  const { userToken, agentToken } = await mintTokens(demo);
  heading(`2. token exchange (RFC 8693) for ${scope}${detail ? ', bound to the exact request' : ''}`);
  const form = {
    grant_type: TOKEN_EXCHANGE,
    subject_token: userToken,
    subject_token_type: JWT_TYPE,
    actor_token: agentToken,
    actor_token_type: JWT_TYPE,
    resource: provider,
    ...(detail ? { authorization_details: detail } : { scope }),
  };
  const shown = { ...form, subject_token: '"$USER_TOKEN"', actor_token: '"$AGENT_TOKEN"' };
  const answer = await gateway.send({
    method: 'POST',
    path: '/exchange',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams(form).toString(),
    printedBody: Object.entries(form)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n&'),
    curl: [
      gateway.curlPrefix(),
      `-H 'Accept: application/json'`,
      ...Object.entries(shown).map(([k, v]) => `-d ${k}=${v.startsWith('"') ? v : shellQuote(v)}`),
      `${gateway.internalUrl}/exchange`,
    ],
  });
  let final: Answer = answer;
  if ((answer.json as { error?: unknown } | undefined)?.error === 'authorization_pending') {
    final = await awaitApproval(gateway, answer, { userToken, agentToken }, `https://127.0.0.1:${demo.publicPort}/approvals`, out);
  }
  const body = (final.json ?? {}) as Record<string, unknown>;
  if (final.status === 200 && typeof body.access_token === 'string') {
    out(`  export OPERATION_TOKEN=${body.access_token}`);
    out(`  (an operation token for ${String(body.scope)}: ${String(body.expires_in)} s, bound to the gateway certificate, one use)`);
    out('');
  } else if (body.error === 'consent_required') {
    out('  The user has not consented (or not linked the provider). Open this link in the browser');
    out('  where you signed in, tick the operation, save, then run the command again:');
    out('');
    out(`    ${String(body.error_uri)}`);
    out('');
  }
  return Object.assign(final, { identity: { userToken, agentToken } });
}

async function call(gateway: DemoGateway, demo: Demo, scope: string, method: string, path: string, data: string | undefined): Promise<Answer> {
  if (!METHODS.includes(method)) throw new UsageError(`METHOD must be one of ${METHODS.join(' ')}`);
  if (!path.startsWith('/')) throw new UsageError(`the path starts with / (relative to the provider's API), e.g. /contacts`);
  if (data !== undefined) {
    try {
      JSON.parse(data);
    } catch {
      throw new UsageError('--data is not JSON');
    }
  }
  let exchanged = await exchange(gateway, demo, scope);
  if (needsBoundAction(exchanged)) {
    out('  This operation needs approval: asking again with the exact request bound to it.');
    out('');
    exchanged = await exchange(gateway, demo, scope, boundDetail(scope, method, path, data));
  }
  const token = (exchanged.json as { access_token?: unknown } | undefined)?.access_token;
  if (exchanged.status !== 200 || typeof token !== 'string') return exchanged;
  const provider = providerOf(scope);
  heading(`3. the real request, through /forward (the vault injects the upstream token)`);
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, accept: 'application/json' };
  if (data !== undefined) headers['content-type'] = 'application/json';
  const target = `/forward/${provider}${path}`;
  const answer = await gateway.send({
    method,
    path: target,
    headers,
    ...(data !== undefined ? { body: data } : {}),
    curl: [
      gateway.curlPrefix(),
      ...(method === 'GET' ? [] : [`-X ${method}`]),
      `-H "Authorization: Bearer $OPERATION_TOKEN"`,
      ...(data !== undefined ? [`-H 'Content-Type: application/json'`, `--data ${shellQuote(data)}`] : []),
      shellQuote(`${gateway.internalUrl}${target}`),
    ],
  });
  out('  (the operation token is spent now: exchange again before running the curl line above)');
  return answer;
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { user: { type: 'string' }, agent: { type: 'string' }, data: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const [command, ...rest] = positionals;
  if (values.help === true || command === undefined || command === 'help') {
    out(USAGE);
    return command === undefined && values.help !== true ? 2 : 0;
  }
  const demo = demoFrom(values);
  try {
    await access(`${KEYS}/gateway.key`);
    await access(`${KEYS}/demo-agent-signing.key`);
  } catch {
    throw new NotReady(`no dev keys in ${KEYS}/ of this directory: start the vault first (npm run dev), and run this where you ran it`);
  }
  if (command === 'tokens') {
    if (rest.length > 0) throw new UsageError('tokens takes no arguments');
    await mintTokens(demo);
    return 0;
  }
  const gateway = await DemoGateway.open(demo.internalUrl, KEYS, out);
  try {
    out(`Demo gateway → ${demo.internalUrl} (client certificate ${KEYS}/gateway.crt: spiffe://dev.local/gateway)`);
    out('');
    let answer: Answer;
    if (command === 'exchange' && rest.length === 1) answer = await exchange(gateway, demo, rest[0]!);
    else if (command === 'call' && rest.length === 3) answer = await call(gateway, demo, rest[0]!, rest[1]!.toUpperCase(), rest[2]!, values.data);
    else throw new UsageError(`unknown command or wrong arguments: ${[command, ...rest].join(' ')}`);
    // consent_required is the demo's expected first answer: the next step is the user's, not an error.
    const consent = (answer.json as { error?: unknown } | undefined)?.error === 'consent_required';
    return answer.status < 400 || consent ? 0 : 1;
  } finally {
    gateway.close();
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof Error && 'code' in err ? String((err as { code: unknown }).code) : '';
    if (err instanceof UsageError || code.startsWith('ERR_PARSE_ARGS')) process.stderr.write(`demo: ${message}\n\n${USAGE}\n`);
    else if (code === 'ECONNREFUSED') process.stderr.write('demo: the vault is not running: start it with npm run dev\n');
    else process.stderr.write(`demo: ${message}\n`);
    process.exitCode = 1;
  },
);
