import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { renderOpenApi } from '../helpers/openapi-render.js';

describe('openapi.yaml', () => {
  it('matches the routes that exist (regenerate with `npm run openapi`)', async () => {
    const committed = await readFile(new URL('../../openapi.yaml', import.meta.url), 'utf8');
    expect(committed).toBe(await renderOpenApi());
  });
});
