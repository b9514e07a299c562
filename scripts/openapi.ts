/**
 * `npm run openapi`: regenerate openapi.yaml from the route schemas.
 * Builds the app with throwaway keys and the memory store; never listens.
 */
import { writeFile } from 'node:fs/promises';
import { renderOpenApi } from '../test/helpers/openapi-render.js';

const yaml = await renderOpenApi();
await writeFile(new URL('../openapi.yaml', import.meta.url), yaml);
process.stdout.write('wrote openapi.yaml\n');
