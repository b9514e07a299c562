/** Runs the real admin CLI (`src/cli/admin.ts` under tsx) as a child process against a test vault. */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import type { TestVault } from './vault.js';

const TSX = join(process.cwd(), 'node_modules', '.bin', 'tsx');
const CLI = join(process.cwd(), 'src', 'cli', 'admin.ts');

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Connection settings come from the environment, like an operator's shell; `env` overrides them. */
export function runAdminCli(vault: TestVault, args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  const dir = vault.pki.dir;
  return new Promise((resolve) => {
    execFile(
      TSX,
      [CLI, ...args],
      {
        env: {
          PATH: process.env.PATH ?? '',
          TOKEN_VAULT_ADMIN_URL: vault.internalUrl,
          TOKEN_VAULT_ADMIN_CERT: join(dir, 'admin.crt'),
          TOKEN_VAULT_ADMIN_KEY: join(dir, 'admin.key'),
          TOKEN_VAULT_ADMIN_CACERT: join(dir, 'ca.crt'),
          ...env,
        },
      },
      (err, stdout, stderr) => resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
