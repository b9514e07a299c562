/**
 * Why Redis could not be reached at start, from the last connection error ioredis reported: the
 * server refused the ACL credentials, its TLS certificate was not accepted, or it did not answer.
 * Only codes are kept (a Redis error's first word, RESP's error prefix; Node's TLS `code`): they
 * name the cause without quoting anything the client sent, such as the password.
 */
import { createRequire } from 'node:module';
import { StoreUnavailableError } from '../errors.js';

const { ReplyError } = createRequire(createRequire(import.meta.url).resolve('ioredis'))('redis-errors') as {
  ReplyError: abstract new (...args: never[]) => Error;
};

export type ConnectFailureCause = 'credentials' | 'certificate' | 'unreachable';

/** Redis error prefixes that mean the user or password was refused (AUTH, HELLO; ACL since Redis 6). */
const CREDENTIAL_PREFIXES = new Set(['WRONGPASS', 'NOAUTH', 'NOPERM']);

/** Node's codes for a peer certificate that does not verify (OpenSSL verify results, hostname check). */
const CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Redis did not let the vault in at start; `reason` is a code, safe for logs. */
export class StoreConnectError extends StoreUnavailableError {
  override name = 'StoreConnectError';
  constructor(
    readonly failure: ConnectFailureCause,
    readonly reason: string | undefined,
  ) {
    super(failure === 'unreachable' ? 'store unreachable' : `store refused: ${failure}`);
  }
}

export function connectFailure(lastError: unknown): StoreConnectError {
  if (lastError instanceof ReplyError) {
    const prefix = lastError.message.split(' ', 1)[0] ?? '';
    if (CREDENTIAL_PREFIXES.has(prefix)) return new StoreConnectError('credentials', prefix);
  }
  const code = typeof lastError === 'object' && lastError !== null ? (lastError as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && CERTIFICATE_CODES.has(code)) return new StoreConnectError('certificate', code);
  return new StoreConnectError('unreachable', typeof code === 'string' ? code : undefined);
}
