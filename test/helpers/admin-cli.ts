/**
 * Runs the real admin CLI against a test vault, in this process: `run()` of
 * src/cli/admin-commands.ts is what src/cli/admin.ts calls with process.argv,
 * process.env and the process's stdout/stderr, so only the process wrapper is
 * left out (a child process per call cost a tsx start-up each).
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { run } from '../../src/cli/admin-commands.js';
import type { TestVault } from './vault.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function collector(): { stream: Writable; text: () => string } {
  const chunks: Buffer[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
      done();
    },
  });
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}

/** Connection settings come from the environment, like an operator's shell; `env` overrides them. */
export async function runAdminCli(vault: TestVault, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const dir = vault.pki.dir;
  const out = collector();
  const err = collector();
  const cliEnv = {
    TOKEN_VAULT_ADMIN_URL: vault.internalUrl,
    TOKEN_VAULT_ADMIN_CERT: join(dir, 'admin.crt'),
    TOKEN_VAULT_ADMIN_KEY: join(dir, 'admin.key'),
    TOKEN_VAULT_ADMIN_CACERT: join(dir, 'ca.crt'),
    ...env,
  };
  let code: number;
  try {
    code = await run(args, cliEnv, { out: out.stream, err: err.stream });
  } catch (thrown) {
    // What node does with an uncaught rejection at the top of src/cli/admin.ts: the error on stderr, exit 1.
    err.stream.write(`${thrown instanceof Error ? (thrown.stack ?? thrown.message) : String(thrown)}\n`);
    code = 1;
  }
  return { code, stdout: out.text(), stderr: err.text() };
}
