import { describe, expect, it } from 'vitest';
import { AdminJwtError } from '../../src/admin/admin-jwt.js';
import { AuditContentionError, AuditEventError, AuditOverloadError, AuditTamperError, InvalidCheckpointError } from '../../src/audit/errors.js';
import { StartupError } from '../../src/boot.js';
import { ConfigError } from '../../src/config/load.js';
import { DecryptionError, UnknownKeyIdError, UnsupportedFormatError } from '../../src/crypto/envelope.js';
import { KeysSealedError } from '../../src/crypto/key-custodian.js';
import { KeyMaterialError } from '../../src/crypto/key-files.js';
import { KeyringSealedError } from '../../src/crypto/keyring.js';
import { UnsupportedSigningKeyError } from '../../src/crypto/signing-keys.js';
import * as errors from '../../src/errors.js';
import { ERROR_CODES, isErrorCode, OAuthError } from '../../src/errors.js';
import { RewrapBusyError } from '../../src/grants/rewrap-runs.js';
import { GrantNeedsConsent } from '../../src/grants/upstream-access.js';
import { TlsMaterialError } from '../../src/identity/tls-material.js';
import { pageErrors } from '../../src/linking/pages/page-error.js';
import { OutboundError } from '../../src/net/outbound.js';
import { UpstreamFailure, UpstreamInvalidGrant } from '../../src/providers/upstream-oauth.js';
import { StoreConflictError, StoreUnavailableError } from '../../src/store/errors.js';
import { OperationTokenRejected } from '../../src/tokens/operation-token.js';

const CANARY = 'CANARY-4d1e-input';

/** Every OAuthError class errors.ts exports, built the way its constructor wants. */
function oauthErrors(): OAuthError[] {
  return (Object.values(errors) as unknown[])
    .filter((value): value is new (...args: string[]) => OAuthError => typeof value === 'function' && value.prototype instanceof OAuthError)
    .map((Class) => {
      if (Class.name === 'ConsentRequired') return new Class('https://vault.test/connections', CANARY);
      if (Class.name === 'CodedError') return new Class('TV_SERVER_ERROR', CANARY);
      return new Class(CANARY);
    });
}

/** Every other error class the vault raises. */
const raised: Error[] = [
  new StoreUnavailableError(CANARY),
  new StoreConflictError(CANARY),
  new AuditEventError(CANARY),
  new AuditOverloadError(CANARY),
  new AuditContentionError(CANARY),
  new InvalidCheckpointError(CANARY),
  new AuditTamperError(CANARY, 0),
  new TlsMaterialError([CANARY]),
  new AdminJwtError(CANARY),
  new OutboundError('timeout'),
  new RewrapBusyError(CANARY),
  new GrantNeedsConsent(CANARY),
  new UpstreamInvalidGrant(CANARY),
  new UpstreamFailure('timeout'),
  new ConfigError([CANARY]),
  new KeyMaterialError([CANARY]),
  new UnsupportedSigningKeyError(),
  new KeysSealedError(CANARY),
  new KeyringSealedError(),
  new DecryptionError(),
  new UnknownKeyIdError(CANARY),
  new UnsupportedFormatError(),
  new StartupError([CANARY]),
  new OperationTokenRejected(CANARY),
  ...Object.values(pageErrors).map((page) => page(CANARY)),
];

describe('the error code table', () => {
  it('maps every code to an RFC 6749 §5.2 error, an error status and a static sentence', () => {
    for (const [code, answer] of Object.entries(ERROR_CODES)) {
      expect(code).toMatch(/^TV_[A-Z0-9_]+$/);
      expect(answer.error).toMatch(/^[a-z_]+$/);
      expect(answer.status).toBeGreaterThanOrEqual(400);
      expect(answer.status).toBeLessThan(600);
      // RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
      expect(answer.description).toMatch(/^[\x20-\x21\x23-\x5b\x5d-\x7e]+\.$/);
    }
  });

  it('gives every OAuth error class its own code and answers from the table, never from the detail', () => {
    const classes = oauthErrors().filter((e) => e.name !== 'CodedError');
    expect(classes.length).toBeGreaterThanOrEqual(16);
    for (const error of classes) {
      expect(isErrorCode(error.code)).toBe(true);
      const answer = ERROR_CODES[error.code];
      expect([error.status, error.error, error.description]).toStrictEqual([answer.status, answer.error, answer.description]);
      expect(JSON.stringify(error.toBody())).not.toContain(CANARY);
      expect(error.detail).toBe(CANARY);
    }
    expect(new Set(classes.map((e) => e.code)).size).toBe(classes.length);
  });

  it('gives every error the vault raises a code of the table', () => {
    for (const error of raised)
      expect({ name: error.name, known: isErrorCode((error as { code?: unknown }).code) }).toStrictEqual({ name: error.name, known: true });
  });

  it('keeps the answers the endpoints have always given', () => {
    const answers = oauthErrors()
      .filter((e) => e.name !== 'CodedError')
      .map((e) => [e.name, e.status, e.error]);
    expect(answers).toEqual(
      expect.arrayContaining([
        ['InvalidRequest', 400, 'invalid_request'],
        ['InvalidClient', 401, 'invalid_client'],
        ['InvalidTarget', 400, 'invalid_target'],
        ['InvalidScope', 400, 'invalid_scope'],
        ['AccessDenied', 403, 'access_denied'],
        ['ConsentRequired', 400, 'consent_required'],
        ['InvalidToken', 401, 'invalid_token'],
        ['InsufficientScope', 403, 'insufficient_scope'],
        ['PayloadTooLarge', 413, 'invalid_request'],
        ['UnsupportedMediaType', 415, 'invalid_request'],
        ['NotFound', 404, 'not_found'],
        ['MethodNotAllowed', 405, 'invalid_request'],
        ['TemporarilyUnavailable', 503, 'temporarily_unavailable'],
        ['AuditUnavailable', 503, 'temporarily_unavailable'],
        ['UpstreamError', 502, 'upstream_error'],
        ['UpstreamTimeout', 504, 'upstream_error'],
        ['ServerError', 500, 'server_error'],
      ]),
    );
  });

  it('keeps the status of every consent page', () => {
    const statuses = Object.fromEntries(Object.entries(pageErrors).map(([name, page]) => [name, page(CANARY).status]));
    expect(statuses).toStrictEqual({
      stateMissing: 400,
      stateUnknown: 400,
      stateMismatch: 400,
      providerRefused: 400,
      providerTimeout: 504,
      providerFailed: 502,
      noRefreshToken: 502,
      noSubject: 502,
      unknownProvider: 404,
      unknownGrant: 404,
      badReturnTo: 400,
      badForm: 400,
      notPermitted: 400,
      csrf: 403,
      signInRequired: 401,
      signInFailed: 400,
      unavailable: 503,
      internal: 500,
    });
  });
});
