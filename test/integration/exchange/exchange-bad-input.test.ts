import { randomUUID } from 'node:crypto';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidRequest, PayloadTooLarge, UnsupportedMediaType } from '../../../src/errors.js';
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

const body = (error: { error: string; description: string; extra?: Record<string, string | number> }) => ({
  error: error.error,
  error_description: error.description,
  ...(error.extra ?? {}),
});
/** Malformed beyond any rule (schema, parser): the static description. */
const INVALID_REQUEST = body(new InvalidRequest());
/** An mTLS caller is told the rule that failed (src/errors.ts ERROR_RULES), as a static sentence. */
const invalidRequest = (rule: string) => ({ error: 'invalid_request', error_description: rule });
const invalidTarget = (rule: string) => ({ error: 'invalid_target', error_description: rule });
const invalidScope = (rule: string) => ({ error: 'invalid_scope', error_description: rule });
const accessDenied = (rule: string) => ({ error: 'access_denied', error_description: rule });
const consentRequired = (rule: string, link: string) => ({ error: 'consent_required', error_description: rule, error_uri: link });

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

describe('POST /exchange refuses bad identity tokens with invalid_request and the rule that failed', () => {
  it('a subject token with alg none', async () => {
    const none = new UnsecuredJWT({ sub: 'alice', aud: vault.ids.audience }).setIssuer(vault.ids.idp.issuer).setIssuedAt().setExpirationTime('5m').encode();
    await expectRefused(
      await valid({ subject_token: none }),
      400,
      invalidRequest('subject_token algorithm is not allowed for its issuer'),
      'subject_token: ERR_JOSE_ALG_NOT_ALLOWED',
    );
  });

  it('an HS256 token keyed with the issuer public key (algorithm confusion)', async () => {
    const secret = new TextEncoder().encode(await exportSPKI(vault.ids.idp.publicKey));
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: 'alice', aud: vault.ids.audience, iss: vault.ids.idp.issuer, iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'HS256', kid: vault.ids.idp.kid })
      .sign(secret);
    await expectRefused(
      await valid({ subject_token: forged }),
      400,
      invalidRequest('subject_token algorithm is not allowed for its issuer'),
      'subject_token: ERR_JOSE_ALG_NOT_ALLOWED',
    );
  });

  it('a wrong issuer', async () => {
    await expectRefused(
      await valid({ subject_token: await vault.ids.idp.sign({ sub: 'alice', aud: vault.ids.audience, iss: 'https://evil.test' }) }),
      400,
      invalidRequest('subject_token issuer is not trusted'),
      'subject_token: issuer not trusted for this token kind',
    );
  });

  it('a wrong audience', async () => {
    await expectRefused(
      await valid({ subject_token: await vault.ids.idp.sign({ sub: 'alice', aud: 'https://other.test' }) }),
      400,
      invalidRequest('subject_token audience is not this vault'),
      'subject_token: ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  it('an expired token (beyond the clock skew)', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(
      await valid({ subject_token: await vault.ids.userToken('alice', { iat: now - 600, exp: now - 61 }) }),
      400,
      invalidRequest('subject_token has expired'),
      'subject_token: ERR_JWT_EXPIRED',
    );
  });

  it('a token that is not yet valid', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(
      await valid({ actor_token: await vault.ids.agentToken(AGENT_A, { nbf: now + 120 }) }),
      400,
      invalidRequest('actor_token is not yet valid'),
      'actor_token: ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  it('a subject token living longer than the maximum lifetime (default 1 hour), however much of it is left', async () => {
    const now = Math.floor(Date.now() / 1000);
    await expectRefused(
      await valid({ subject_token: await vault.ids.userToken('alice', { iat: now - 60, exp: now + 3600 }) }),
      400,
      invalidRequest('subject_token lifetime exceeds the maximum'),
      'subject_token: lifetime over the maximum',
    );
  });

  it('an actor token without iat (its lifetime cannot be known)', async () => {
    const { agents } = vault.ids;
    const noIat = await new SignJWT({ sub: AGENT_A, aud: vault.ids.audience, iss: agents.issuer, exp: Math.floor(Date.now() / 1000) + 300 })
      .setProtectedHeader({ alg: agents.alg, kid: agents.kid, typ: 'JWT' })
      .sign(agents.privateKey);
    await expectRefused(
      await valid({ actor_token: noIat }),
      400,
      invalidRequest('actor_token lacks iat, so its lifetime is unknown'),
      'actor_token: no iat, so no known lifetime',
    );
  });

  it('an embedded jwk header with the attacker key', async () => {
    const attacker = await generateKeyPair('EdDSA');
    const jwk = await exportJWK(attacker.publicKey);
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: 'alice', aud: vault.ids.audience, iss: vault.ids.idp.issuer, iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'EdDSA', jwk })
      .sign(attacker.privateKey);
    await expectRefused(
      await valid({ subject_token: forged }),
      400,
      invalidRequest('subject_token signature does not verify with its issuer keys'),
      'subject_token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    );
  });

  it('a jku header pointing at the attacker keys', async () => {
    const attacker = await generateKeyPair('ES256');
    const now = Math.floor(Date.now() / 1000);
    const forged = await new SignJWT({ sub: AGENT_A, aud: vault.ids.audience, iss: vault.ids.agents.issuer, iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: 'ES256', kid: vault.ids.agents.kid, jku: 'https://evil.test/jwks.json' })
      .sign(attacker.privateKey);
    await expectRefused(
      await valid({ actor_token: forged }),
      400,
      invalidRequest('actor_token signature does not verify with its issuer keys'),
      'actor_token: ERR_JWS_SIGNATURE_VERIFICATION_FAILED',
    );
  });

  it('a user token presented as the agent token', async () => {
    await expectRefused(
      await valid({ actor_token: await vault.ids.userToken('alice') }),
      400,
      invalidRequest('actor_token issuer is not trusted'),
      'actor_token: issuer not trusted for this token kind',
    );
  });

  it('an agent token presented as the user token', async () => {
    await expectRefused(
      await valid({ subject_token: await vault.ids.agentToken(AGENT_A) }),
      400,
      invalidRequest('subject_token issuer is not trusted'),
      'subject_token: issuer not trusted for this token kind',
    );
  });

  it('no actor at all', async () => {
    const params = await valid();
    delete params.actor_token;
    delete params.actor_token_type;
    await expectRefused(
      params,
      400,
      invalidRequest('no actor: send actor_token or a subject_token act claim'),
      'no actor: neither actor_token nor act in the subject token',
    );
  });

  it('may_act naming another agent', async () => {
    await expectRefused(
      await valid({ subject_token: await vault.ids.userToken('alice', { may_act: { sub: AGENT_B } }) }),
      400,
      invalidRequest('subject_token may_act names another agent'),
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
    const other = await expectRefused(
      { ...base, authorization_details: details(bobs.id) },
      403,
      accessDenied('no such grant for this user'),
      'no such grant for this user',
      id,
    );
    const missing = await expectRefused(
      { ...base, authorization_details: details(`g-${randomUUID()}`) },
      403,
      accessDenied('no such grant for this user'),
      'no such grant for this user',
      id,
    );
    expect(other.text).toBe(missing.text);
  });

  it('an unknown provider', async () => {
    await expectRefused(await valid({ resource: 'nope' }), 400, invalidTarget('resource or audience names no provider'), 'unknown resource or audience');
  });

  it('an unknown operation', async () => {
    await expectRefused(await valid({ scope: 'crm:records.delete' }), 400, invalidScope('scope names no operation of this provider'), 'unknown operation');
  });

  it('an operation outside the admin ceiling for this agent', async () => {
    await expectRefused(
      await exchangeParams(vault.ids, 'alice', AGENT_B, { scope: 'crm:records.write' }),
      400,
      invalidScope('operation is not permitted for this agent'),
      'operation not permitted for this agent',
    );
  });

  it('an operation the user did not consent to, with the consent deep link', async () => {
    const link = `https://127.0.0.1:8443/connections/crm?agent=${encodeURIComponent(AGENT_A)}&operation=crm%3Arecords.write`;
    await expectRefused(
      await valid({ scope: 'crm:records.write' }),
      400,
      consentRequired('operation is not consented for this agent', link),
      'operation not consented for this agent',
    );
    // The refusal names the user's grant, so it shows in that connection's history.
    expect((await vault.auditRecords()).at(-1)?.grant).toBe(aliceGrant.id);
  });

  it('a user with no grant for the provider, with the link deep link', async () => {
    const link = `https://127.0.0.1:8443/connections/crm?agent=${encodeURIComponent(AGENT_A)}&operation=crm%3Arecords.read`;
    await expectRefused(
      await exchangeParams(vault.ids, 'carol', AGENT_A),
      400,
      consentRequired('user has not linked this provider', link),
      'no grant for this provider',
    );
  });

  it('the upstream token where the operation does not allow its release', async () => {
    await expectRefused(
      await valid({ requested_token_type: 'urn:ietf:params:oauth:token-type:access_token' }),
      400,
      invalidRequest('operation does not allow releasing the upstream token'),
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

  it('another grant type (RFC 6749 §5.2)', async () => {
    await expectRefused(
      'grant_type=password&username=alice',
      400,
      { error: 'unsupported_grant_type', error_description: 'grant_type is not supported' },
      'grant_type is not token exchange',
    );
  });

  it('a form body without a grant type', async () => {
    const params = await valid();
    delete params.grant_type;
    await expectRefused(params, 400, INVALID_REQUEST, 'schema validation failed');
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

describe('POST /exchange names the rule that failed', () => {
  const withoutScope = async (extra: Record<string, string>) => {
    const params = await valid(extra);
    delete params.scope;
    return params;
  };

  it('a subject token that is not a JWT', async () => {
    await expectRefused(await valid({ subject_token: 'not-a-jwt' }), 400, invalidRequest('subject_token is not a JWT'), 'subject_token: not a JWT');
  });

  it('an actor token without its type', async () => {
    const params = await valid();
    delete params.actor_token_type;
    await expectRefused(params, 400, invalidRequest('actor_token requires actor_token_type'), 'actor_token without actor_token_type');
  });

  it('an actor token carrying delegation claims', async () => {
    await expectRefused(
      await valid({ actor_token: await vault.ids.agentToken(AGENT_A, { act: { sub: AGENT_B } }) }),
      400,
      invalidRequest('actor_token carries delegation claims'),
      'actor_token: carries delegation claims',
    );
  });

  it('a malformed may_act claim', async () => {
    await expectRefused(
      await valid({ subject_token: await vault.ids.userToken('alice', { may_act: 'agent-a' }) }),
      400,
      invalidRequest('subject_token may_act claim is malformed'),
      'subject_token: malformed may_act',
    );
  });

  it('a subject act naming another agent than the actor token', async () => {
    await expectRefused(
      await valid({ subject_token: await vault.ids.userToken('alice', { act: { sub: AGENT_B } }) }),
      400,
      invalidRequest('subject_token act names another agent than actor_token'),
      'subject act names another agent than the actor token',
    );
  });

  it('both scope and authorization_details', async () => {
    const details = JSON.stringify([{ type: 'crm', actions: ['records.read'] }]);
    await expectRefused(
      await valid({ authorization_details: details }),
      400,
      invalidRequest('scope and authorization_details are exclusive'),
      'both scope and authorization_details',
    );
  });

  it('neither scope nor authorization_details', async () => {
    await expectRefused(await withoutScope({}), 400, invalidRequest('scope or authorization_details is required'), 'no operation requested');
  });

  it('authorization_details that is not JSON', async () => {
    await expectRefused(
      await withoutScope({ authorization_details: '[{' }),
      400,
      invalidRequest('authorization_details is not JSON'),
      'authorization_details: not JSON',
    );
  });

  it('authorization_details with two entries', async () => {
    const two = JSON.stringify([
      { type: 'crm', actions: ['records.read'] },
      { type: 'crm', actions: ['records.read'] },
    ]);
    await expectRefused(
      await withoutScope({ authorization_details: two }),
      400,
      invalidRequest('authorization_details must hold exactly one entry'),
      'authorization_details: exactly one entry required',
    );
  });

  it('a malformed authorization_details entry', async () => {
    await expectRefused(
      await withoutScope({ authorization_details: JSON.stringify([{ type: 'crm' }]) }),
      400,
      invalidRequest('authorization_details entry is malformed'),
      'authorization_details: malformed entry',
    );
  });

  it('an authorization_details type that is no provider', async () => {
    await expectRefused(
      await withoutScope({ resource: 'crm', authorization_details: JSON.stringify([{ type: 'nope', actions: ['records.read'] }]) }),
      400,
      invalidTarget('authorization_details type names no provider'),
      'authorization_details type is not a provider',
    );
  });

  it('an authorization_details action that is no operation', async () => {
    await expectRefused(
      await withoutScope({ authorization_details: JSON.stringify([{ type: 'crm', actions: ['records.delete'] }]) }),
      400,
      invalidScope('authorization_details action names no operation of this provider'),
      'unknown operation',
    );
  });

  it('a revoked grant', async () => {
    await vault.seedGrant('dave', { status: 'revoked' });
    await expectRefused(await exchangeParams(vault.ids, 'dave', AGENT_A), 403, accessDenied('grant is revoked'), 'grant revoked');
  });

  it('a grant that needs re-consent', async () => {
    const link = `https://127.0.0.1:8443/connections/crm?agent=${encodeURIComponent(AGENT_A)}&operation=crm%3Arecords.read`;
    await vault.seedGrant('erin', { status: 'consent_required' });
    await expectRefused(await exchangeParams(vault.ids, 'erin', AGENT_A), 400, consentRequired('grant needs re-consent', link), 'grant needs re-consent');
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
