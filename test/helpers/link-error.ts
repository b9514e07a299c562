import { expect } from 'vitest';
import { LinkError, type LinkErrorCode } from '../../src/linking/errors.js';

/** The promise rejects with a LinkError of exactly this code (linking/errors.ts). */
export async function expectLinkError(promise: Promise<unknown>, code: LinkErrorCode): Promise<void> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(LinkError);
  expect((err as LinkError).code).toBe(code);
}
