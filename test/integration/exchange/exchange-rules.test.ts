/**
 * One case per rule of src/error-rules.ts that exchange-bad-input.test.ts does not reach: the identity
 * token rules of src/identity/token-verifier.ts, the delegation rules of src/exchange/token-exchange.ts
 * and the target rules of src/exchange/target.ts. Each asserts the whole body, the status and the
 * internal reason of the audit record, so each case fails for its own reason.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SignJWT, UnsecuredJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_A, crmProvider, exchangeParams, startExchangeVault, type ExchangeVault } from '../../helpers/exchange-fixture.js';
import { createTestPki } from '../../helpers/vault.js';
import { withRequestId } from '../../helpers/request-id.js';

const invalidRequest = (rule: string) => ({ error: 'invalid_request', error_description: rule });
const invalidTarget = (rule: string) => ({ error: 'invalid_target', error_description: rule });

/** Whole body and status, plus the internal reason the audit record gives. */
async function expectRefused(vault: ExchangeVault, params: Record<string, string>, status: number, expected: object, reason: string) {
  const res = await vault.exchange(params);
  expect(res.json()).toStrictEqual(withRequestId(res, expected));
  expect(res.status).toBe(status);
  expect(res.headers['cache-control']).toBe('no-store');
  expect((await vault.auditRecords()).at(-1)?.reason).toBe(reason);
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

describe('POST /exchange names the identity token rule that failed', () => {
  let vault: ExchangeVault;
  beforeAll(async () => {
    vault = await startExchangeVault();
    await vault.seedGrant('alice');
  });
  afterAll(() => vault.close());

  const valid = (extra: Record<string, string> = {}) => exchangeParams(vault.ids, 'alice', AGENT_A, extra);

  it('a subject token issued in the future (beyond the clock skew)', async () => {
    const now = nowSeconds();
    await expectRefused(
      vault,
      await valid({ subject_token: await vault.ids.userToken('alice', { iat: now + 120, exp: now + 300 }) }),
      400,
      invalidRequest('subject_token is issued in the future'),
      'subject_token: issued in the future',
    );
  });

  it('an actor token issued in the future (beyond the clock skew)', async () => {
    const now = nowSeconds();
    await expectRefused(
      vault,
      await valid({ actor_token: await vault.ids.agentToken(AGENT_A, { iat: now + 120, exp: now + 300 }) }),
      400,
      invalidRequest('actor_token is issued in the future'),
      'actor_token: issued in the future',
    );
  });

  it('a subject token without exp', async () => {
    const { idp } = vault.ids;
    const noExp = await new SignJWT({ sub: 'alice', aud: vault.ids.audience, iss: idp.issuer, iat: nowSeconds() })
      .setProtectedHeader({ alg: idp.alg, kid: idp.kid, typ: 'JWT' })
      .sign(idp.privateKey);
    await expectRefused(
      vault,
      await valid({ subject_token: noExp }),
      400,
      invalidRequest('subject_token lacks a required claim (exp, sub)'),
      'subject_token: ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  it('an actor token with an empty sub', async () => {
    await expectRefused(
      vault,
      await valid({ actor_token: await vault.ids.agentToken('') }),
      400,
      invalidRequest('actor_token lacks a required claim (exp, sub)'),
      'actor_token: empty sub',
    );
  });

  // jose refusals the verifier has no specific rule for (token-verifier.ts joseRule) fall back to "could not be verified".
  it('a subject token whose exp is not a number', async () => {
    const { idp } = vault.ids;
    const claims: Record<string, unknown> = { sub: 'alice', aud: vault.ids.audience, iss: idp.issuer, iat: nowSeconds(), exp: 'soon' };
    const stringExp = await new SignJWT(claims).setProtectedHeader({ alg: idp.alg, kid: idp.kid, typ: 'JWT' }).sign(idp.privateKey);
    await expectRefused(
      vault,
      await valid({ subject_token: stringExp }),
      400,
      invalidRequest('subject_token could not be verified'),
      'subject_token: ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  it('a subject token whose iat is not a number is not told it was issued in the future', async () => {
    const { idp } = vault.ids;
    const claims: Record<string, unknown> = { sub: 'alice', aud: vault.ids.audience, iss: idp.issuer, iat: 'yesterday', exp: nowSeconds() + 300 };
    const stringIat = await new SignJWT(claims).setProtectedHeader({ alg: idp.alg, kid: idp.kid, typ: 'JWT' }).sign(idp.privateKey);
    await expectRefused(
      vault,
      await valid({ subject_token: stringIat }),
      400,
      invalidRequest('subject_token could not be verified'),
      'subject_token: ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  // The same rules for the other token of each pair (one template per rule in token-verifier.ts; each sentence still gets its own case).
  it('an actor token that is not a JWT', async () => {
    await expectRefused(vault, await valid({ actor_token: 'not-a-jwt' }), 400, invalidRequest('actor_token is not a JWT'), 'actor_token: not a JWT');
  });

  it('an actor token with alg none', async () => {
    const none = new UnsecuredJWT({ sub: AGENT_A, aud: vault.ids.audience }).setIssuer(vault.ids.agents.issuer).setIssuedAt().setExpirationTime('5m').encode();
    await expectRefused(
      vault,
      await valid({ actor_token: none }),
      400,
      invalidRequest('actor_token algorithm is not allowed for its issuer'),
      'actor_token: ERR_JOSE_ALG_NOT_ALLOWED',
    );
  });

  it('an expired actor token', async () => {
    const now = nowSeconds();
    await expectRefused(
      vault,
      await valid({ actor_token: await vault.ids.agentToken(AGENT_A, { iat: now - 600, exp: now - 61 }) }),
      400,
      invalidRequest('actor_token has expired'),
      'actor_token: ERR_JWT_EXPIRED',
    );
  });

  it('a subject token that is not yet valid', async () => {
    await expectRefused(
      vault,
      await valid({ subject_token: await vault.ids.userToken('alice', { nbf: nowSeconds() + 120 }) }),
      400,
      invalidRequest('subject_token is not yet valid'),
      'subject_token: ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  it('an actor token for another audience', async () => {
    await expectRefused(
      vault,
      await valid({ actor_token: await vault.ids.agentToken(AGENT_A, { aud: 'https://other.test' }) }),
      400,
      invalidRequest('actor_token audience is not this vault'),
      'actor_token: ERR_JWT_CLAIM_VALIDATION_FAILED',
    );
  });

  it('a subject token without iat (its lifetime cannot be known)', async () => {
    const { idp } = vault.ids;
    const noIat = await new SignJWT({ sub: 'alice', aud: vault.ids.audience, iss: idp.issuer, exp: nowSeconds() + 300 })
      .setProtectedHeader({ alg: idp.alg, kid: idp.kid, typ: 'JWT' })
      .sign(idp.privateKey);
    await expectRefused(
      vault,
      await valid({ subject_token: noIat }),
      400,
      invalidRequest('subject_token lacks iat, so its lifetime is unknown'),
      'subject_token: no iat, so no known lifetime',
    );
  });

  it('an actor token living longer than the maximum lifetime', async () => {
    const now = nowSeconds();
    await expectRefused(
      vault,
      await valid({ actor_token: await vault.ids.agentToken(AGENT_A, { iat: now - 60, exp: now + 3600 }) }),
      400,
      invalidRequest('actor_token lifetime exceeds the maximum'),
      'actor_token: lifetime over the maximum',
    );
  });

  it('a subject token whose act claim is malformed', async () => {
    await expectRefused(
      vault,
      await valid({ subject_token: await vault.ids.userToken('alice', { act: 'agent-a' }) }),
      400,
      invalidRequest('subject_token act claim is malformed'),
      'subject_token: malformed act',
    );
  });

  it('an actor token with a critical header extension the vault does not know (RFC 7515 §4.1.11)', async () => {
    const { agents } = vault.ids;
    const now = nowSeconds();
    const critical = await new SignJWT({ sub: AGENT_A, aud: vault.ids.audience, iss: agents.issuer, iat: now, exp: now + 300 })
      .setProtectedHeader({ alg: agents.alg, kid: agents.kid, typ: 'JWT', crit: ['x-unknown'], 'x-unknown': true })
      .sign(agents.privateKey, { crit: { 'x-unknown': true } });
    await expectRefused(
      vault,
      await valid({ actor_token: critical }),
      400,
      invalidRequest('actor_token could not be verified'),
      'actor_token: ERR_JOSE_NOT_SUPPORTED',
    );
  });

  it('an actor token with an unexpected typ', async () => {
    await expectRefused(
      vault,
      await valid({ actor_token: await vault.ids.agents.sign({ sub: AGENT_A, aud: vault.ids.audience }, { typ: 'at+jwt' }) }),
      400,
      invalidRequest('actor_token has an unexpected typ'),
      'actor_token: unexpected typ',
    );
  });

  it('a subject token typed as an actor token', async () => {
    await expectRefused(
      vault,
      await valid({ subject_token: await vault.ids.idp.sign({ sub: 'alice', aud: vault.ids.audience }, { typ: 'agent+jwt' }) }),
      400,
      invalidRequest('subject_token is typed as an actor token'),
      'subject_token: typed as an actor token',
    );
  });

  it('may_act naming the agent but another issuer than the actor token', async () => {
    await expectRefused(
      vault,
      await valid({ subject_token: await vault.ids.userToken('alice', { may_act: { sub: AGENT_A, iss: 'https://other-agents.test' } }) }),
      400,
      invalidRequest('subject_token may_act names another agent issuer'),
      'may_act names another agent issuer',
    );
  });
});

/**
 * A vault where the IdP is trusted for both kinds (so typing decides the kind) and a second provider
 * `docs` exists (so resource, audience, authorization_details and scope can disagree on the provider).
 */
describe('POST /exchange with an issuer of both kinds and two providers', () => {
  let vault: ExchangeVault;
  let pkiDir: string;
  beforeAll(async () => {
    const pki = await createTestPki();
    pkiDir = pki.dir;
    // test/helpers/identity-issuers.ts writes the IdP keys to idp.jwks.json in the PKI directory.
    const idp = { issuer: 'https://idp.test', jwksFile: join(pki.dir, 'idp.jwks.json'), algorithms: ['EdDSA'] };
    const agents = { issuer: 'https://agents.test', jwksFile: join(pki.dir, 'agents.jwks.json'), algorithms: ['ES256'] };
    vault = await startExchangeVault({
      pki,
      providers: { crm: crmProvider, docs: { ...crmProvider, displayName: 'Docs', apiBaseUrl: 'https://docs.test/api' } },
      overrides: { identity: { subjectIssuers: [idp], actorIssuers: [agents, idp], clockSkewSeconds: 30 } },
    });
    await vault.seedGrant('alice');
  });
  // The PKI is this file's own (startVault removes only a PKI it created).
  afterAll(async () => {
    await vault.close();
    await rm(pkiDir, { recursive: true, force: true });
  });

  const valid = (extra: Record<string, string> = {}) => exchangeParams(vault.ids, 'alice', AGENT_A, extra);
  const withoutScope = async (extra: Record<string, string>) => {
    const params = await valid(extra);
    delete params.scope;
    return params;
  };

  it('an actor token of the shared issuer that is not typed agent+jwt', async () => {
    await expectRefused(
      vault,
      await valid({ actor_token: await vault.ids.idp.sign({ sub: AGENT_A, aud: vault.ids.audience }) }),
      400,
      invalidRequest('actor_token must be typed agent+jwt by an issuer of both kinds'),
      'actor_token: issuer also issues subject tokens; actor tokens must be typed agent+jwt',
    );
  });

  it('a subject token of the shared issuer with an unexpected typ', async () => {
    await expectRefused(
      vault,
      await valid({ subject_token: await vault.ids.idp.sign({ sub: 'alice', aud: vault.ids.audience }, { typ: 'logout+jwt' }) }),
      400,
      invalidRequest('subject_token has an unexpected typ'),
      'subject_token: unexpected typ',
    );
  });

  it('resource and audience naming different providers', async () => {
    await expectRefused(
      vault,
      await valid({ resource: 'crm', audience: 'docs' }),
      400,
      invalidTarget('resource and audience name different providers'),
      'resource and audience name different providers',
    );
  });

  it('an authorization_details type other than the resource', async () => {
    await expectRefused(
      vault,
      await withoutScope({ resource: 'crm', authorization_details: JSON.stringify([{ type: 'docs', actions: ['records.read'] }]) }),
      400,
      invalidTarget('authorization_details type differs from resource or audience'),
      'authorization_details type differs from resource',
    );
  });

  it('a scope naming an operation of another provider than the resource', async () => {
    await expectRefused(
      vault,
      await valid({ resource: 'docs', scope: 'crm:records.read' }),
      400,
      invalidTarget('operation does not belong to the requested provider'),
      'operation does not belong to the requested provider',
    );
  });
});
