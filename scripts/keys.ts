/**
 * `npm run keys [-- --force]`: generates development key material in keys/dev/.
 * Production keys are made with openssl instead (keys/README.md).
 */
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureDevKeys } from '../src/dev/keys.js';

const dir = fileURLToPath(new URL('../keys/dev/', import.meta.url));
const force = process.argv.includes('--force');
const { created, written } = await ensureDevKeys(dir, { force });

if (!created) {
  console.log(`${relative(process.cwd(), dir) || dir}: dev keys already complete (use --force to regenerate)`);
} else {
  for (const path of written) console.log(`wrote ${relative(process.cwd(), path)}`);
  console.log('Development keys only: never use them outside dev mode.');
}
