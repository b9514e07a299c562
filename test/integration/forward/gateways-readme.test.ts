/**
 * The README's "Gateways" section is executable: its two HTTP requests are
 * read from README.md and sent byte for byte (placeholders filled in,
 * Content-Length added) over the gateway's mTLS connection, against a vault
 * published as the README's host, with the CRM API behind it.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_A } from '../../helpers/exchange-fixture.js';
import { rawRequest, startForwardWorld, type ForwardWorld } from '../../helpers/forward-fixture.js';

let w: ForwardWorld;
let section: string;

beforeAll(async () => {
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
  section = /\n## Gateways\n([\s\S]*?)\n## /.exec(readme)?.[1] ?? '';
  const host = /^Host: (.+)$/m.exec(section)?.[1];
  w = await startForwardWorld({ internalUrl: `https://${host}` });
});
afterAll(() => w?.close());

function blocks(language: string): string[] {
  return [...section.matchAll(new RegExp('```' + language + '\\n([\\s\\S]*?)\\n```', 'g'))].map((m) => m[1]!);
}

/** A README request as sent on the wire: CRLF line ends, Content-Length for a body, one request per connection. */
function wire(block: string, fill: Record<string, string>): string {
  let text = block;
  for (const [placeholder, value] of Object.entries(fill)) text = text.replaceAll(placeholder, value);
  const [head, body = ''] = text.split('\n\n');
  const lines = [...head!.split('\n'), 'Connection: close', ...(body ? [`Content-Length: ${Buffer.byteLength(body)}`] : [])];
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

describe('README: Gateways', () => {
  it('documents two requests and the exchange answer', () => {
    expect(blocks('http')).toHaveLength(2);
    expect(blocks('json')).toHaveLength(1);
  });

  it('the documented exchange then forward reach the CRM API with the upstream token, and nothing else does', async () => {
    const [exchange, forward] = blocks('http') as [string, string];
    const before = w.crm.requests.length;
    const step1 = await rawRequest(
      w.vault,
      wire(exchange, { '<user JWT>': await w.vault.ids.userToken('alice'), '<agent JWT>': await w.vault.ids.agentToken(AGENT_A) }),
    );
    expect(step1.status).toBe(200);
    const answer = JSON.parse(step1.body) as Record<string, unknown>;
    const documented = JSON.parse(blocks('json')[0]!) as Record<string, unknown>;
    expect(answer).toStrictEqual({ ...documented, access_token: expect.any(String) });
    expect(w.crm.requests.length).toBe(before);

    const step2 = await rawRequest(w.vault, wire(forward, { '<operation token>': answer.access_token as string }));
    expect(step2.status).toBe(200);
    expect(JSON.parse(step2.body)).toStrictEqual({ method: 'GET', path: '/api/contacts/1', sub: 'alice', bytes: 0 });
    const seen = w.crm.requests.slice(before);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'GET', url: '/api/contacts/1', bearer: w.upstream.accessToken, active: true });
  });
});
