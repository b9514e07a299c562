import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KeyMaterialError, loadKeyMaterial, readSecretFile } from '../../../src/crypto/key-files.js';

let dir: string;
const secrets: string[] = [];

async function put(name: string, content: string, mode = 0o600): Promise<void> {
  const path = join(dir, name);
  await writeFile(path, content, { mode });
  await chmod(path, mode);
  if (content.trim().length >= 5) secrets.push(content.trim());
}

const ed25519Pem = (): string => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const p256Pem = (): string => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

async function completeDir(): Promise<void> {
  await put('kek-1.key', `${randomBytes(32).toString('base64')}\n`);
  await put('kek-2.key', randomBytes(32).toString('base64url'));
  await put('signing-1.key', ed25519Pem());
  await put('signing-2.key', p256Pem());
  await put('audit-hmac.key', `${randomBytes(48).toString('base64')}\n`);
}

async function problemsOf(load: Promise<unknown>): Promise<KeyMaterialError> {
  const error = await load.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeyMaterialError);
  const message = (error as KeyMaterialError).message;
  for (const secret of secrets) expect(message).not.toContain(secret);
  return error as KeyMaterialError;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tv-keys-'));
  secrets.length = 0;
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('loading key material', () => {
  it('loads a complete directory: highest KEK and signing key active, older ones kept', async () => {
    await completeDir();
    const material = await loadKeyMaterial(dir);
    expect(material.keyring.activeId).toBe('2');
    expect(material.keyring.ids().sort()).toStrictEqual(['1', '2']);
    expect(material.signingKeys.active.alg).toBe('ES256');
    expect(material.signingKeys.jwks().keys.map((k) => k.alg)).toStrictEqual(['ES256', 'EdDSA']);
    expect(material.auditHmacKey.byteLength).toBe(48);
  });

  it('refuses a missing directory', async () => {
    const error = await problemsOf(loadKeyMaterial(join(dir, 'nope')));
    expect(error.problems).toStrictEqual([`${join(dir, 'nope')}: missing: key directory not found`]);
  });

  it.each([
    ['no KEK', 'kek-1.key', 'kek-2.key', /kek-<id>\.key: missing/],
    ['no signing key', 'signing-1.key', 'signing-2.key', /signing-<n>\.key: missing/],
    ['no audit HMAC key', 'audit-hmac.key', undefined, /audit-hmac\.key: missing/],
  ])('refuses a directory with %s', async (_case, remove, alsoRemove, expected) => {
    await completeDir();
    await rm(join(dir, remove));
    if (alsoRemove !== undefined) await rm(join(dir, alsoRemove));
    const error = await problemsOf(loadKeyMaterial(dir));
    expect(error.problems).toHaveLength(1);
    expect(error.message).toMatch(expected);
  });

  it.each([
    ['a KEK that is not base64', 'kek-1.key', 'this is not a key!', 'malformed'],
    ['a KEK that is too short', 'kek-1.key', randomBytes(16).toString('base64'), 'too short: 16 bytes'],
    ['a KEK of the wrong length', 'kek-1.key', randomBytes(33).toString('base64'), 'wrong length: 33 bytes'],
    ['an empty KEK', 'kek-1.key', '\n', 'empty'],
    ['a KEK with a non-numeric id', 'kek-one.key', randomBytes(32).toString('base64'), 'key id must be a decimal number'],
    ['a signing key that is not PEM', 'signing-1.key', 'garbage', 'malformed'],
    [
      'an RSA signing key',
      'signing-1.key',
      generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      'malformed',
    ],
    [
      'a signing key in SEC1 rather than PKCS#8',
      'signing-1.key',
      generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'sec1', format: 'pem' }).toString(),
      'malformed',
    ],
    ['an audit key that is too short', 'audit-hmac.key', randomBytes(31).toString('base64'), 'too short: 31 bytes'],
  ])('refuses %s, naming the file', async (_case, name, content, expected) => {
    await completeDir();
    await put(name, content);
    const error = await problemsOf(loadKeyMaterial(dir));
    expect(error.problems).toStrictEqual([expect.stringContaining(`${join(dir, name)}: ${expected}`)]);
  });

  it.each([
    ['group-readable', 0o640, '0640'],
    ['world-readable', 0o644, '0644'],
  ])('refuses a %s key file', async (_case, mode, shown) => {
    await completeDir();
    await chmod(join(dir, 'kek-1.key'), mode);
    const error = await problemsOf(loadKeyMaterial(dir));
    expect(error.problems).toStrictEqual([`${join(dir, 'kek-1.key')}: permissions ${shown} give group/others access; run chmod 600`]);
  });

  it('checks every *.key file, including TLS keys it does not load', async () => {
    await completeDir();
    await put('server.key', p256Pem(), 0o644);
    const error = await problemsOf(loadKeyMaterial(dir));
    expect(error.message).toContain(join(dir, 'server.key'));
  });

  it('reports every defect at once in one error', async () => {
    await completeDir();
    await rm(join(dir, 'audit-hmac.key'));
    await put('kek-1.key', randomBytes(8).toString('base64'));
    await put('kek-2.key', '@@@');
    await chmod(join(dir, 'signing-1.key'), 0o640);
    await put('signing-2.key', 'not a key', 0o644);
    const error = await problemsOf(loadKeyMaterial(dir));
    expect(error.problems).toHaveLength(6);
    for (const name of ['audit-hmac.key', 'kek-1.key', 'kek-2.key', 'signing-1.key', 'signing-2.key']) {
      expect(error.message).toContain(join(dir, name));
    }
    expect(error.message).toMatch(/^key material rejected \(6 problems\):\n- /);
  });

  it('refuses the same signing key published twice', async () => {
    await completeDir();
    const pem = ed25519Pem();
    await put('signing-1.key', pem);
    await put('signing-3.key', pem);
    const error = await problemsOf(loadKeyMaterial(dir));
    expect(error.problems).toStrictEqual([`${join(dir, 'signing-1.key')}: same key as ${join(dir, 'signing-3.key')}`]);
  });
});

describe('reading a secret file', () => {
  it('returns the trimmed content', async () => {
    await put('client-secret', '  s3cr3t-value\n');
    await expect(readSecretFile(join(dir, 'client-secret'))).resolves.toBe('s3cr3t-value');
  });

  it('refuses a readable-by-others, short or missing file, naming it', async () => {
    await put('client-secret', 'xyzzy\n', 0o644);
    const error = await problemsOf(readSecretFile(join(dir, 'client-secret'), { minBytes: 16 }));
    expect(error.problems).toStrictEqual([
      `${join(dir, 'client-secret')}: permissions 0644 give group/others access; run chmod 600`,
      `${join(dir, 'client-secret')}: too short: 5 bytes, need at least 16`,
    ]);
    const missing = await problemsOf(readSecretFile(join(dir, 'absent')));
    expect(missing.problems).toStrictEqual([`${join(dir, 'absent')}: missing`]);
  });
});
