/**
 * `npx tsx bench/token-algorithms.ts`: what an operation token costs to sign and to verify
 * with each algorithm the vault can sign with (EdDSA/Ed25519, RFC 8037; ES256, RFC 7518 §3.4),
 * through the vault's own mint and verify (src/tokens/operation-token.ts), and what the
 * record proof that /forward checks instead of the signature costs (one HMAC-SHA256).
 *
 * Alternating rounds in one process, CPU time (process.cpuUsage) per operation, so a busy
 * machine slows both algorithms alike; the load average is printed with the figures.
 * Options (env): TOKEN_BENCH_OPS (operations per round, default 4000), TOKEN_BENCH_ROUNDS (default 5).
 */
import { createPublicKey, generateKeyPairSync, KeyObject, sign as cryptoSign, verify as cryptoVerify } from 'node:crypto';
import { loadavg } from 'node:os';
import { importSigningKey, SigningKeys } from '../src/crypto/signing-keys.js';
import { mintOperationToken, readOperationToken, verifyOperationToken, type OperationTokenClaims } from '../src/tokens/operation-token.js';

const ops = Number(process.env.TOKEN_BENCH_OPS ?? 4000);
const rounds = Number(process.env.TOKEN_BENCH_ROUNDS ?? 5);

const pem = (type: 'ed25519' | 'ec') =>
  generateKeyPairSync(type as 'ec', type === 'ec' ? { namedCurve: 'P-256' } : ({} as never))
    .privateKey.export({ format: 'pem', type: 'pkcs8' })
    .toString();

const now = Math.floor(Date.now() / 1000);
const claims: OperationTokenClaims = {
  issuer: 'https://vault.example',
  userId: 'u_0123456789abcdef',
  agent: 'spiffe://dev.local/agent/a',
  provider: 'crm',
  operation: 'crm:records.read',
  gateway: 'spiffe://dev.local/gateway',
  certThumbprint: 'n4bQgYhMfWWaL-qgxVrQFaO_TxsrC4Is0V1sFbDwCgg',
  issuedAt: now,
  expiresAt: now + 900,
};
const options = { issuer: claims.issuer, clockSkewSeconds: 30 };

/** CPU µs per call of `fn`, over `ops` calls. */
function cpuUs(fn: () => unknown): number {
  const before = process.cpuUsage();
  for (let i = 0; i < ops; i++) fn();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / ops;
}

const algorithms = { EdDSA: new SigningKeys(await importSigningKey(pem('ed25519'))), ES256: new SigningKeys(await importSigningKey(pem('ec'))) };
const figures: Record<string, Record<'sign' | 'verify' | 'proof' | 'rawSign' | 'rawVerify', number[]>> = {};
const input = Buffer.from('x'.repeat(540));
for (let round = 0; round <= rounds; round++) {
  for (const [name, keys] of Object.entries(algorithms)) {
    const token = mintOperationToken(keys, claims).token;
    // The signature alone through node:crypto, on a token-sized input: what the algorithm itself costs.
    const privateKey = KeyObject.from(keys.active.privateKey);
    const digest = name === 'EdDSA' ? null : 'sha256';
    const publicKey = createPublicKey(privateKey);
    const signature = cryptoSign(digest, input, privateKey);
    const rawSign = cpuUs(() => cryptoSign(digest, input, privateKey));
    const rawVerify = cpuUs(() => cryptoVerify(digest, input, publicKey, signature));
    const sign = cpuUs(() => mintOperationToken(keys, claims));
    const verify = cpuUs(() => verifyOperationToken(token, keys, options));
    // Every rule but the signature, plus the proof HMAC: what /forward does with a token it minted.
    const proof = cpuUs(() => readOperationToken(token, keys, options));
    // Round 0 warms the JIT and is not counted.
    if (round === 0) continue;
    const f = (figures[name] ??= { sign: [], verify: [], proof: [], rawSign: [], rawVerify: [] });
    f.rawSign.push(rawSign);
    f.rawVerify.push(rawVerify);
    f.sign.push(sign);
    f.verify.push(verify);
    f.proof.push(proof);
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
process.stdout.write(
  `operation tokens, CPU µs per call (median of ${rounds} alternating rounds of ${ops}); node ${process.version}; load average ${loadavg()
    .map((l) => l.toFixed(2))
    .join(
      ' ',
    )}\n\n| algorithm | signature alone (sign / verify) | mint (sign, claims, proof) | verify (signature + claims) | read + proof (what /forward does) | token length |\n|---|---|---|---|---|---|\n`,
);
for (const [name, f] of Object.entries(figures)) {
  const length = mintOperationToken(algorithms[name as keyof typeof algorithms], claims).token.length;
  process.stdout.write(
    `| ${name} | ${median(f.rawSign).toFixed(1)} / ${median(f.rawVerify).toFixed(1)} | ${median(f.sign).toFixed(1)} | ${median(f.verify).toFixed(1)} | ${median(f.proof).toFixed(1)} | ${length} |\n`,
  );
}
