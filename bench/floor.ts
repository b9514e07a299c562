/**
 * The exchange's component floor, measured in the same run as its rows: what
 * every exchange must pay whatever the code around it, each timed alone in
 * this process (CPU µs per exchange, `process.cpuUsage`):
 *
 * - bare POST: the same request to a bare Fastify mTLS route (the row's figure);
 * - Ed25519 sign: one `crypto.sign` of a token-sized input with the vault's key;
 * - claims: the payload's JSON and base64url;
 * - cache: SHA-256 of both identity tokens (the verified-token cache keys);
 * - HMACs: the token's record proof, its audit HMAC and the chain HMAC;
 * - Redis client: the exchange's client commands through ioredis with the
 *   vault's options (auto-pipelined, 32 in flight): the kill-switch epoch `GET`
 *   pipelined with the one read of the grant and its cached token (`EVALSHA`),
 *   then the record's `SET PX`, and an eighth of an audit append (`EVALSHA`).
 */
import { createHmac, hash, sign, KeyObject } from 'node:crypto';
import { Redis } from 'ioredis';
import type { SigningKey } from '../src/crypto/signing-keys.js';

export interface Floor {
  components: Record<string, number>;
  total: number;
}

function cpuPer(iterations: number, work: () => void): number {
  for (let i = 0; i < Math.min(iterations, 500); i++) work();
  const before = process.cpuUsage();
  for (let i = 0; i < iterations; i++) work();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / iterations;
}

async function redisClientUs(url: string, iterations: number): Promise<number> {
  const redis = new Redis(url, { enableAutoPipelining: true, enableOfflineQueue: true, commandTimeout: 500, maxRetriesPerRequest: 1 });
  redis.defineCommand('floorRead', { numberOfKeys: 2, lua: "return {redis.call('HGETALL', KEYS[1]), redis.call('GET', KEYS[2])}" });
  redis.defineCommand('floorAppend', { numberOfKeys: 1, lua: "return redis.call('INCR', KEYS[1])" });
  const r = redis as Redis & { floorRead(a: string, b: string): Promise<unknown>; floorAppend(a: string): Promise<unknown> };
  await redis.hset('floor:{g:1}:grant', { userId: 'u', provider: 'crm', status: 'active', version: '3', 'c:agent': '["crm:records.read"]' });
  await redis.set('floor:{g:1}:at', JSON.stringify({ c: 'x'.repeat(180), e: Date.now() + 3_600_000, v: 3 }));
  const record = `1:${'p'.repeat(43)}:${JSON.stringify({ jti: 'j'.repeat(22), grantId: 'g-1', userId: 'u'.repeat(40), agent: 'a'.repeat(40), operation: 'crm:records.read' })}`;
  const one = async (i: number) => {
    await Promise.all([redis.get('floor:{ks}:epoch'), r.floorRead('floor:{g:1}:grant', 'floor:{g:1}:at')]);
    await Promise.all([redis.set(`floor:tok:${i % 1000}`, record, 'PX', 60_000), i % 8 === 0 ? r.floorAppend('floor:{audit}:n') : undefined]);
  };
  const loop = async (from: number) => {
    for (let i = from; i < iterations; i += 32) await one(i);
  };
  await Promise.all(Array.from({ length: 32 }, (_, k) => loop(k)).slice(0, 1));
  const before = process.cpuUsage();
  await Promise.all(Array.from({ length: 32 }, (_, k) => loop(k)));
  const used = process.cpuUsage(before);
  redis.disconnect();
  return (used.user + used.system) / iterations;
}

export async function measureFloor(options: { barePostUs: number; signingKey: SigningKey; tokens: string[]; redisUrl?: string }): Promise<Floor> {
  const key = KeyObject.from(options.signingKey.privateKey);
  const payload = {
    iss: 'https://vault.example',
    sub: 'https://idp.example|alice',
    aud: 'crm',
    jti: 'AAAAAAAAAAAAAAAAAAAAAA',
    iat: 1_700_000_000,
    exp: 1_700_000_300,
    scope: 'crm:records.read',
    act: { sub: 'spiffe://dev.local/agent/a' },
    cnf: { 'x5t#S256': 'x'.repeat(43) },
    client_id: 'spiffe://dev.local/gateway',
  };
  const input = Buffer.from(`${'h'.repeat(100)}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`);
  const token = `${input.toString('latin1')}.${'s'.repeat(86)}`;
  const hmacKey = Buffer.alloc(32, 7);
  const components: Record<string, number> = {
    'bare POST': options.barePostUs,
    'Ed25519 sign': cpuPer(5_000, () => sign(null, input, key)),
    claims: cpuPer(20_000, () => Buffer.from(JSON.stringify(payload)).toString('base64url')),
    cache: cpuPer(20_000, () => {
      for (const t of options.tokens) hash('sha256', `s\0${t}`, 'base64url');
    }),
    HMACs: cpuPer(20_000, () => {
      createHmac('sha256', hmacKey).update(token).digest('base64url');
      createHmac('sha256', hmacKey).update(token).digest('base64url');
      createHmac('sha256', hmacKey).update('prev\n1\n').update('x'.repeat(600)).digest('base64url');
    }),
    ...(options.redisUrl ? { 'Redis client': await redisClientUs(options.redisUrl, 8_000) } : {}),
  };
  return { components, total: Object.values(components).reduce((a, b) => a + b, 0) };
}
