/**
 * ES256 signatures in JWS form: r || s, not the DER that node:crypto's sign
 * returns (RFC 7518 §3.4). Converted here because asking node:crypto for
 * `dsaEncoding: 'ieee-p1363'` costs twice the signature itself on Node 24.
 */

/** ECDSA-Sig-Value (DER SEQUENCE of INTEGER r, s) → r || s, each `size` bytes, big-endian. */
export function derToRawEcdsa(der: Buffer, size: number): Buffer {
  // P-256 signatures are at most 72 bytes, so every DER length here is one byte (short form).
  if (der[0] !== 0x30 || der[1] !== der.length - 2) throw new Error('not a DER ECDSA signature');
  const raw = Buffer.alloc(2 * size);
  let offset = 2;
  for (let part = 0; part < 2; part++) {
    if (der[offset] !== 0x02) throw new Error('not a DER ECDSA signature');
    let length = der[offset + 1] ?? 0;
    let start = offset + 2;
    offset = start + length;
    // INTEGERs carry a 0x00 before a high first byte; r and s never exceed `size` bytes otherwise.
    while (length > size && der[start] === 0) {
      start++;
      length--;
    }
    if (length > size || offset > der.length) throw new Error('not a DER ECDSA signature');
    der.copy(raw, part * size + size - length, start, start + length);
  }
  if (offset !== der.length) throw new Error('not a DER ECDSA signature');
  return raw;
}
