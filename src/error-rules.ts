/**
 * The rules a refusal may name (errors.ts `OAuthError.because`), keyed by the code of errors.ts's
 * table they belong to; test/unit/http/error-rules.test.ts checks every key is a code there.
 */
/** Both identity tokens of an exchange fail the same rules (identity/token-verifier.ts). */
const eachToken = <const R extends string>(rule: R) => [`subject_token ${rule}`, `actor_token ${rule}`] as const;

/**
 * Why a refusal happened, as an mTLS caller (a gateway) is told it in `error_description`
 * (http/error-handler.ts): one of a closed list of static sentences per code. A rule names the
 * parameter and the check that failed, never a value from the request, a secret or a library
 * message. The README's error table is checked against this list.
 */
export const ERROR_RULES = {
  TV_UNSUPPORTED_GRANT_TYPE: ['grant_type is not supported'],
  TV_INVALID_REQUEST: [
    ...eachToken('is not a JWT'),
    ...eachToken('issuer is not trusted'),
    ...eachToken('algorithm is not allowed for its issuer'),
    ...eachToken('signature does not verify with its issuer keys'),
    ...eachToken('has expired'),
    ...eachToken('is not yet valid'),
    ...eachToken('is issued in the future'),
    ...eachToken('audience is not this vault'),
    ...eachToken('lacks a required claim (exp, sub)'),
    ...eachToken('lacks iat, so its lifetime is unknown'),
    ...eachToken('lifetime exceeds the maximum'),
    ...eachToken('could not be verified'),
    ...eachToken('has an unexpected typ'),
    'subject_token is typed as an actor token',
    'subject_token act claim is malformed',
    'subject_token may_act claim is malformed',
    'subject_token act names another agent than actor_token',
    'subject_token may_act names another agent',
    'subject_token may_act names another agent issuer',
    'actor_token must be typed agent+jwt by an issuer of both kinds',
    'actor_token carries delegation claims',
    'actor_token requires actor_token_type',
    'no actor: send actor_token or a subject_token act claim',
    'scope and authorization_details are exclusive',
    'scope or authorization_details is required',
    'authorization_details is not JSON',
    'authorization_details must hold exactly one entry',
    'authorization_details entry is malformed',
    'operation does not allow releasing the upstream token',
    'approval needs authorization_details with method, path and body_sha256',
    'operation needs approval: only an operation token is issued',
  ],
  TV_INVALID_TARGET: [
    'resource or audience names no provider',
    'resource and audience name different providers',
    'authorization_details type names no provider',
    'authorization_details type differs from resource or audience',
    'operation does not belong to the requested provider',
  ],
  TV_INVALID_SCOPE: [
    'scope names no operation of this provider',
    'authorization_details action names no operation of this provider',
    'operation is not permitted for this agent',
  ],
  TV_ACCESS_DENIED: ['no such grant for this user', 'grant is revoked'],
  TV_INVALID_GRANT: ['auth_req_id is unknown, spent or not issued to this caller'],
  TV_CONSENT_REQUIRED: ['user has not linked this provider', 'grant needs re-consent', 'operation is not consented for this agent'],
} as const satisfies Record<`TV_${string}`, readonly string[]>;
