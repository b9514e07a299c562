/**
 * The maximum lifetime of subject and actor tokens (config `identity.maxTokenLifetimeSeconds`):
 * `exp − iat` above it is refused, a token without `iat` is refused while a maximum is set, and
 * `null` turns the rule off.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../src/config/schema.js';
import { InvalidRequest } from '../../../src/errors.js';
import { TokenVerifier } from '../../../src/identity/token-verifier.js';
import { AUDIENCE, createIdentities, type TestIdentities, type TestIssuer } from '../../helpers/identity-issuers.js';

let dir: string;
let ids: TestIdentities;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tv-verifier-'));
  ids = await createIdentities(dir);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

const verifier = (maxTokenLifetimeSeconds: number | null = 3600) =>
  TokenVerifier.create({ ...(ids.config as Omit<Config['identity'], 'maxTokenLifetimeSeconds'>), maxTokenLifetimeSeconds }, AUDIENCE);
const now = () => Math.floor(Date.now() / 1000);
/** A token exactly like the issuer's, but without `iat`. */
const withoutIat = (issuer: TestIssuer, sub: string, exp: number) =>
  new SignJWT({ iss: issuer.issuer, sub, aud: AUDIENCE, exp }).setProtectedHeader({ alg: issuer.alg, kid: issuer.kid, typ: 'JWT' }).sign(issuer.privateKey);

/** The internal reason of a refusal (the answer itself is always the static invalid_request). */
async function refusal(verify: Promise<unknown>): Promise<string> {
  const err = await verify.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(InvalidRequest);
  return (err as InvalidRequest).detail;
}

describe('the maximum lifetime of identity tokens', () => {
  it('accepts subject and actor tokens up to the maximum', async () => {
    const v = await verifier(3600);
    const iat = now() - 10;
    expect((await v.verifySubject(await ids.userToken('alice', { iat, exp: iat + 3600 }))).issuer).toBe(ids.idp.issuer);
    expect((await v.verifyActor(await ids.agentToken('spiffe://a', { iat, exp: iat + 3600 }))).agent).toBe('spiffe://a');
  });

  it('refuses a subject or actor token living longer than the maximum, by one second or by a year', async () => {
    const v = await verifier(3600);
    const iat = now() - 10;
    for (const exp of [iat + 3601, iat + 365 * 86_400]) {
      expect(await refusal(v.verifySubject(await ids.userToken('alice', { iat, exp })))).toBe('subject_token: lifetime over the maximum');
      expect(await refusal(v.verifyActor(await ids.agentToken('spiffe://a', { iat, exp })))).toBe('actor_token: lifetime over the maximum');
    }
  });

  it('measures exp − iat, not what is left: an old long-lived token near its end is still refused', async () => {
    const v = await verifier(3600);
    const iat = now() - 86_000;
    expect(await refusal(v.verifySubject(await ids.userToken('alice', { iat, exp: now() + 60 })))).toBe('subject_token: lifetime over the maximum');
  });

  it('refuses a token without iat while a maximum is set', async () => {
    const v = await verifier(3600);
    const exp = now() + 300;
    expect(await refusal(v.verifySubject(await withoutIat(ids.idp, 'alice', exp)))).toBe('subject_token: no iat, so no known lifetime');
    expect(await refusal(v.verifyActor(await withoutIat(ids.agents, 'spiffe://a', exp)))).toBe('actor_token: no iat, so no known lifetime');
  });

  it('applies a configured maximum other than the default', async () => {
    const v = await verifier(300);
    const iat = now();
    await expect(v.verifySubject(await ids.userToken('alice', { iat, exp: iat + 300 }))).resolves.toBeDefined();
    expect(await refusal(v.verifySubject(await ids.userToken('bob', { iat, exp: iat + 301 })))).toBe('subject_token: lifetime over the maximum');
  });

  it('has no maximum when set to null: long-lived tokens and tokens without iat pass, as before', async () => {
    const v = await verifier(null);
    const exp = now() + 30 * 86_400;
    await expect(v.verifySubject(await ids.userToken('alice', { iat: now(), exp }))).resolves.toBeDefined();
    await expect(v.verifyActor(await withoutIat(ids.agents, 'spiffe://a', exp))).resolves.toBeDefined();
  });
});
