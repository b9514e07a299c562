import { createSecretKey, hkdfSync, type KeyObject } from 'node:crypto';

/**
 * The audit key is used directly only for the chain MAC; every other use gets
 * its own HKDF-SHA-256 subkey (RFC 5869) so one key never serves two purposes
 * and a token HMAC can never be replayed as a chain hash or a checkpoint MAC.
 */
export interface AuditKeys {
  chain: KeyObject;
  tokenHmac: KeyObject;
  checkpoint: KeyObject;
}

const TOKEN_HMAC_INFO = 'token-vault token hmac';
const CHECKPOINT_INFO = 'token-vault audit checkpoint';
/** RFC 2104 §3: an HMAC-SHA-256 key shorter than the hash output weakens it. */
const MIN_KEY_BYTES = 32;

export function deriveAuditKeys(hmacKey: Uint8Array): AuditKeys {
  if (hmacKey.byteLength < MIN_KEY_BYTES) throw new RangeError(`audit HMAC key must be at least ${MIN_KEY_BYTES} bytes`);
  const derive = (info: string): KeyObject => createSecretKey(Buffer.from(hkdfSync('sha256', hmacKey, new Uint8Array(0), info, 32)));
  return {
    chain: createSecretKey(Buffer.from(hmacKey)),
    tokenHmac: derive(TOKEN_HMAC_INFO),
    checkpoint: derive(CHECKPOINT_INFO),
  };
}
