import { randomUUID } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AccessDenied, ConsentRequired, InvalidRequest, InvalidScope, InvalidTarget, PayloadTooLarge, UnsupportedMediaType } from '../../../src/errors.js';
import { AGENT_A, AGENT_B, exchangeParams, startExchangeVault, type ExchangeVault } from '../../helpers/exchange-fixture.js';
import type { Grant } from '../../../src/store/grant-store.js';
import { withRequestId } from '../../helpers/request-id.js';

let vault: ExchangeVault;
let aliceGrant: Grant;

beforeAll(async () => {
  vault = await startExchangeVault();
  aliceGrant = await vault.seedGrant('alice');
  await vault.seedGrant('bob');
});
afterAll(() => vault.close());

const body = (error: { error: string; description: string; extra?: Record<string, string> }) => ({
  error: error.error,
  error_description: error.description,
  ...(error.extra ?? {}),
});
const INVALID_REQUEST = body(new InvalidRequest());
const INVALID_TARGET = body(new InvalidTarget());
const INVALID_SCOPE = body(new InvalidScope());
const ACCESS_DENIED = body(new AccessDenied());

/** Whole body and status, plus the internal reason the audit record gives (so each case fails for its own reason). */
async function expectRefused(params: Record<string, string> | string, status: number, expected: unknown, reason: string, headers?: Record<string, string>) {
  const res = await vault.exchange(params, headers);
  expect(res.json()).toStrictEqual(withRequestId(res, expected as object));
  expect(res.status).toBe(status);
  expect(res.headers['cache-control']).toBe('no-store');
  expect((await vault.auditRecords()).at(-1)?.reason).toBe(reason);
  return res;
}

const valid = (extra: Record<string, string> = {}) => exchangeParams(vault.ids, 'alice', AGENT_A, extra);

describe('POST /exchange refuses bad identity tokens with invalid_request', () => {
  it('a subject token with alg none', async () => {
    const none = new UnsecuredJWT({ sub: 'alice', aud: vault.ids.audience }).setIssuer(vault.ids.idp.issuer).setIssuedAt().setExpirationTime('5m').encode();
    await expectRefused(await valid({ subject_token: none }), 400, INVALID_REQUEST, 'subject_token: ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('an HS256 token keyed with the issuer public key (algorithm confusion)', async () => {
    const secret = new TextEncoder().encode(await exportSPKI(vault.ids.idp.publicKey));
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: 'alice', aud: vault.ids.audience, iss: vault.ids.idp.issuer, iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: vault.ids.idp.kid })
      .sign(secret);
    await expectRefused(await valid({ subject_token: forged }), 400, INVALID_REQUEST, 'subject_token: ERR_JOSE_ALG_NOT_ALLOWED');
  });

  it('a wrong issuer', async () => {
    await expectRefused(
      await valid({ subject_token: await vault.ids.idp.sign({ sub: 'alice', aud: vault.ids.audience, iss: 'https://evil.test' }) }),
      400,
      INVALID_REQUEST,
      'subject_token: issuer not trusted for this token kind',
    );
  });

  it('a wrong audience', async () => {
    await expectRefused(
      await valid({ subject_token: await vault.ids.idp.sign({ sub: 'alice', aud: 'https://other.test' }) }),
      400,
      INVALID_REQUEST,
      'subject_token: ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  it('an expired token (beyond the clock skew)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(
      await valid({ subject_token: await vault.ids.userToken('alice', { iat: now - 600, exp: now - 61 }) }),
      400,
      INVALID_REQUEST,
      'subject_token: ERR_JWT_EXPIRED',
    );
  });

  it('a token that is not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(
      await valid({ actor_token: await vault.ids.agentToken(AGENT_A, { nbf: now + 120 }) }),
      400,
      INVALID_REQUEST,
      'actor_token: ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  it('an embedded jwk header with the attacker key', async () => {
    const attacker = await generateKeyPair('EdDSA');
    const jwk = await exportJWK(attacker.publicKey);
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: 'alice', aud: vault.ids.audience, iss: vault.ids.idp.issuer, iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'EdDSA', jwk })
      .sign(attacker.privateKey);
    await expectRefused(await valid({ subject_token: forged }), 400, INVALID_REQUEST, 'subject_token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });

  it('a jku header pointing at the attacker keys', async () => {
    const attacker = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: AGENT_A, aud: vault.ids.audience, iss: vault.ids.agents.issuer, iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'ES256', kid: vault.ids.agents.kid, jku: 'https://evil.test/jwks.json' })
      .sign(attacker.privateKey);
    await expectRefused(await valid({ actor_token: forged }), 400, INVALID_REQUEST, 'actor_token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  });

  it('a user token presented as the agent token', async () => {
    await expectRefused(
      await valid({ actor_token: await vault.ids.userToken('alice') }),
      400,
      INVALID_REQUEST,
      'actor_token: issuer not trusted for this token kind',
    );
  });

  it('an agent token presented as the user token', async () => {
    await expectRefused(
      await valid({ subject_token: await vault.ids.agentToken(AGENT_A) }),
      400,
      INVALID_REQUEST,
      'subject_token: issuer not trusted for this token kind',
    );
  });

  it('no actor at all', async () => {
    const params = await valid();
    delete params.actor_token;
    delete params.actor_token_type;
    await expectRefused(params, 400, INVALID_REQUEST, 'no actor: neither actor_token nor act in the subject token');
  });

  it('may_act naming another agent', async () => {
    await expectRefused(
      await valid({ subject_token: await vault.ids.userToken('alice', { may_act: { sub: AGENT_B } }) }),
      400,
      INVALID_REQUEST,
      'may_act names another agent',
    );
  });
});

describe('POST /exchange refuses requests outside policy', () => {
  it('another user’s grant gets the same answer as a missing grant', async () => {
    const bobs = (await vault.runtime.stores.grants.listByUser(`${vault.ids.idp.issuer}#bob`))[0]!;
    const details = (identifier: string) => JSON.stringify([{ type: 'crm', actions: ['records.read'], identifier }]);
    const base = await valid();
    delete base.scope;
    // One request id for both, so any difference between the two answers is the vault's own.
    const id = { 'x-request-id': 'same-answer' };
    const other = await expectRefused({ ...base, authorization_details: details(bobs.id) }, 403, ACCESS_DENIED, 'no such grant for this user', id);
    const missing = await expectRefused(
      { ...base, authorization_details: details(`g-${randomUUID()}`) },
      403,
      ACCESS_DENIED,
      'no such grant for this user',
      id,
    );
    expect(other.text).toBe(missing.text);
  });

  it('an unknown provider', async () => {
    await expectRefused(await valid({ resource: 'nope' }), 400, INVALID_TARGET, 'unknown resource or audience');
  });

  it('an unknown operation', async () => {
    await expectRefused(await valid({ scope: 'crm:records.delete' }), 400, INVALID_SCOPE, 'unknown operation');
  });

  it('an operation outside the admin ceiling for this agent', async () => {
    await expectRefused(
      await exchangeParams(vault.ids, 'alice', AGENT_B, { scope: 'crm:records.write' }),
      400,
      INVALID_SCOPE,
      'operation not permitted for this agent',
    );
  });

  it('an operation the user did not consent to, with the consent deep link', async () => {
    const link = `https://127.0.0.1:8443/connections/crm?agent=${encodeURIComponent(AGENT_A)}&operation=crm%3Arecords.write`;
    await expectRefused(await valid({ scope: 'crm:records.write' }), 400, body(new ConsentRequired(link)), 'operation not consented for this agent');
    // The refusal names the user's grant, so it shows in that connection's history.
    expect((await vault.auditRecords()).at(-1)?.grant).toBe(aliceGrant.id);
  });

  it('a user with no grant for the provider, with the link deep link', async () => {
    const link = `https://127.0.0.1:8443/connections/crm?agent=${encodeURIComponent(AGENT_A)}&operation=crm%3Arecords.read`;
    await expectRefused(await exchangeParams(vault.ids, 'carol', AGENT_A), 400, body(new ConsentRequired(link)), 'no grant for this provider');
  });

  it('the upstream token where the operation does not allow its release', async () => {
    await expectRefused(
      await valid({ requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' }),
      400,
      INVALID_REQUEST,
      'operation does not allow releasing the upstream token',
    );
  });
});

describe('POST /exchange refuses malformed requests', () => {
  it('an oversized body', async () => {
    const params = await valid({ padding: 'x'.repeat(70_000) });
    await expectRefused(params, 413, body(new PayloadTooLarge()), 'body too large');
  });

  it('a malformed JSON body', async () => {
    await expectRefused('{"grant_type":', 400, INVALID_REQUEST, 'FST_ERR_CTP_INVALID_JSON_BODY', { 'content-type': 'application/json' });
  });

  it('a form body that is not a token exchange', async () => {
    await expectRefused('grant_type=password&username=alice', 400, INVALID_REQUEST, 'schema validation failed');
  });

  it('a wrong content type', async () => {
    await expectRefused(new URLSearchParams(await valid()).toString(), 415, body(new UnsupportedMediaType()), 'FST_ERR_CTP_INVALID_MEDIA_TYPE', {
      'content-type': 'text/xml',
    });
  });

  it('a repeated parameter', async () => {
    const params = new URLSearchParams(await valid());
    params.append('scope', 'crm:records.write');
    await expectRefused(params.toString(), 400, INVALID_REQUEST, 'schema validation failed');
  });

  it('a repeated subject token', async () => {
    const params = new URLSearchParams(await valid());
    params.append('subject_token', await vault.ids.userToken('bob'));
    await expectRefused(params.toString(), 400, INVALID_REQUEST, 'schema validation failed');
  });
});

describe('denials are audited', () => {
  it('records the reason and the identities known at the time', async () => {
    const before = (await vault.auditRecords()).length;
    await vault.exchange(await valid({ scope: 'crm:records.delete' }), { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    const records = (await vault.auditRecords()).slice(before);
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      action: 'token.exchange',
      decision: 'deny',
      reason: 'unknown operation',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      gateway: 'spiffe://dev.local/gateway',
      agent: AGENT_A,
      user: `${vault.ids.idp.issuer}#alice`,
    });
  });
});
