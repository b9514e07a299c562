import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The layering rules of .dependency-cruiser.cjs, run over a small planted tree (the real tree is
// checked by `npm run depcruise` in `npm test`): every rule must fire on its violation, and the
// imports the layering allows must pass.
const config = fileURLToPath(new URL('../../.dependency-cruiser.cjs', import.meta.url));

const planted: Record<string, string> = {
  'src/grants/policy.ts': 'export class GrantPolicy {}\n',
  'src/store/page.ts': "import { GrantPolicy } from '../grants/policy.js';\nexport const planted = GrantPolicy;\n",
  'src/linking/grant-history.ts': "import type { AgentAccess } from './pages/history-view.js';\nexport interface GrantUse { agent?: AgentAccess }\n",
  'src/linking/pages/history-view.ts': "import type { GrantUse } from '../grant-history.js';\nexport interface AgentAccess { use?: GrantUse }\n",
  'src/exchange/routes.ts': "import { headers } from '../forward/headers.js';\nexport const routes = headers;\n",
  'src/forward/headers.ts': 'export const headers = 1;\n',
  'src/tokens/mint.ts': "import type { AdminRoutes } from '../admin/routes.js';\nexport type Mint = AdminRoutes;\n",
  'src/admin/routes.ts': "import { GrantPolicy } from '../grants/policy.js';\nexport type AdminRoutes = GrantPolicy;\n",
  'src/health/routes.ts': "import { pki } from '../dev/pki.js';\nexport const health = pki;\n",
  'src/dev/pki.ts': 'export const pki = 1;\n',
  'src/dev/dev.ts': "import { pki } from './pki.js';\nexport const dev = pki;\n",
  'src/discovery/routes.ts': "import { vault } from '../../test/helpers/vault.js';\nexport const discovery = vault;\n",
  'test/helpers/vault.ts': 'export const vault = 1;\n',
};

let baseDir: string;

beforeAll(async () => {
  baseDir = await mkdtemp(join(tmpdir(), 'layering-'));
  for (const [path, text] of Object.entries(planted)) {
    await mkdir(dirname(join(baseDir, path)), { recursive: true });
    await writeFile(join(baseDir, path), text);
  }
});

afterAll(async () => {
  await rm(baseDir, { recursive: true, force: true });
});

describe('layering rules', () => {
  it('report every planted violation and nothing the layering allows', async () => {
    // The planted tree has no tsconfig.json of its own; `.js` specifiers still resolve to `.ts`.
    const { tsConfig: _tsConfig, ...options } = await extractDepcruiseOptions(config);
    const { output } = await cruise(['src'], { ...options, baseDir });
    const violations = (output as ICruiseResult).summary.violations.map((v) => `${v.rule.name}: ${v.from} -> ${v.to}`).sort();
    expect(violations).toStrictEqual([
      'dev-outside-dev: src/health/routes.ts -> src/dev/pki.ts',
      'domain-library-imports-entry-point: src/tokens/mint.ts -> src/admin/routes.ts',
      'entry-point-imports-entry-point: src/exchange/routes.ts -> src/forward/headers.ts',
      'infrastructure-imports-domain: src/store/page.ts -> src/grants/policy.ts',
      'no-circular: src/linking/grant-history.ts -> src/linking/pages/history-view.ts',
      'src-imports-test: src/discovery/routes.ts -> test/helpers/vault.ts',
    ]);
  });
});
