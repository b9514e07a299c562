import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/https-client.js';
import { startDevProcess, type DevProcess } from '../helpers/dev-process.js';
import { withRequestId } from '../helpers/request-id.js';

let cwd: string;
let dev: DevProcess;
let ports: { public: number; internal: number };

beforeAll(async () => {
  // A directory with no keys: what a fresh clone looks like to `npm run dev`.
  cwd = await mkdtemp(join(tmpdir(), 'tv-dev-'));
  dev = await startDevProcess(cwd);
  ports = dev.ports;
});
afterAll(async () => {
  await dev?.stop();
  await rm(cwd, { recursive: true, force: true });
});

describe('npm run dev on a fresh checkout', () => {
  it('generates the dev keys with private files at 0600 and prints a ready-to-paste curl line', async () => {
    expect(dev.output()).toContain('DEVELOPMENT MODE');
    expect(dev.output()).toContain(
      `curl --cert keys/dev/gateway.crt --key keys/dev/gateway.key --cacert keys/dev/ca.crt https://127.0.0.1:${ports.internal}/healthz`,
    );
    for (const name of ['ca.crt', 'server.crt', 'gateway.crt', 'admin.crt', 'other.crt']) await stat(join(cwd, 'keys/dev', name));
    for (const name of ['server.key', 'gateway.key', 'admin.key', 'other.key', 'kek-1.key', 'signing-1.key', 'audit-hmac.key']) {
      expect((await stat(join(cwd, 'keys/dev', name))).mode & 0o777, name).toBe(0o600);
    }
  });

  it('serves /healthz on both listeners; the internal one only to the dev gateway certificate', async () => {
    const dir = join(cwd, 'keys/dev');
    const ca = await readFile(join(dir, 'ca.crt'), 'utf8');
    const pair = async (name: string) => ({ cert: await readFile(join(dir, `${name}.crt`), 'utf8'), key: await readFile(join(dir, `${name}.key`), 'utf8') });
    const pub = await call(`https://127.0.0.1:${ports.public}/healthz`, { ca });
    expect(pub.json()).toStrictEqual({ status: 'ok' });
    const internal = await call(`https://127.0.0.1:${ports.internal}/healthz`, { ca, client: await pair('gateway') });
    expect(internal.json()).toStrictEqual({ status: 'ok' });
    await expect(call(`https://127.0.0.1:${ports.internal}/healthz`, { ca })).rejects.toThrow();
    const other = await call(`https://127.0.0.1:${ports.internal}/healthz`, { ca, client: await pair('other') });
    expect(other.status).toBe(401);
    expect(other.json()).toStrictEqual(withRequestId(other, { error: 'invalid_client', error_description: 'Client authentication failed.' }));
  });

  it('prints the metrics URL and whether tracing is on; the URL serves Prometheus metrics', async () => {
    const line = /metrics: {3}(http:\/\/127\.0\.0\.1:\d+\/metrics)\n/.exec(dev.output());
    expect(line).not.toBeNull();
    expect(dev.output()).toContain('tracing:   off (set OTEL_EXPORTER_OTLP_ENDPOINT to export traces)');
    const res = await fetch(line![1]!);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await res.text()).toMatch(/^tv_http_request_duration_seconds_count\{listener="public",route="\/healthz",status="200"\} [1-9]/m);
  });
});
