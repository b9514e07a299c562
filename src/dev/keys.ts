/**
 * Development key material under `keys/dev/` (dev mode: src/dev/dev.ts).
 *
 * Same file names and formats as a production keys directory (see
 * keys/README.md), plus a dev PKI for the mTLS listeners. Never used in
 * production.
 */
import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createCa, issueCert } from './pki.js';

/** SPIFFE trust domain of the dev identities (gateway, admin, other). */
export const DEV_TRUST_DOMAIN = 'dev.local';

/** Certificate files with their keys, generated (and regenerated) together. */
export const DEV_PKI_FILES = [
  'ca.crt',
  'ca.key',
  'server.crt',
  'server.key',
  'gateway.crt',
  'gateway.key',
  'admin.crt',
  'admin.key',
  'other.crt',
  'other.key',
] as const;

/** Key files in the production layout; each is created only when missing, so dev data stays readable. */
export const DEV_SECRET_FILES = ['kek-1.key', 'signing-1.key', 'audit-hmac.key'] as const;

const PRIVATE_MODE = 0o600;
const PUBLIC_MODE = 0o644;
// Certificates that expire within a day are regenerated rather than breaking the next dev session.
const MIN_REMAINING_MS = 86_400_000;

/** Result of {@link ensureDevKeys}. */
export interface DevKeysResult {
  /** Whether any file was written. */
  readonly created: boolean;
  /** Paths written, in order. */
  readonly written: readonly string[];
}

/**
 * Creates whatever dev key material is missing in `dir`: the whole PKI when
 * any certificate or key is missing or about to expire, and each missing key
 * file. With `force`, regenerates everything.
 */
export async function ensureDevKeys(dir: string, options: { force?: boolean } = {}): Promise<DevKeysResult> {
  const force = options.force === true;
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  const put = async (name: string, content: string, mode: number): Promise<void> => {
    const path = join(dir, name);
    await writeAtomically(path, content, mode);
    written.push(path);
  };

  if (force || !(await pkiUsable(dir))) {
    const ca = await createCa({ commonName: 'Token Vault Dev CA', pathLength: 0 });
    await put('ca.key', ca.keyPem, PRIVATE_MODE);
    await put('ca.crt', ca.certPem, PUBLIC_MODE);
    const leaves = {
      server: { commonName: 'localhost', dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'], serverAuth: true },
      gateway: spiffeClient('gateway'),
      admin: spiffeClient('admin'),
      other: spiffeClient('other'),
    };
    for (const [name, options] of Object.entries(leaves)) {
      const issued = await issueCert(ca, options);
      await put(`${name}.key`, issued.keyPem, PRIVATE_MODE);
      await put(`${name}.crt`, issued.certPem, PUBLIC_MODE);
    }
  }

  const generators: Record<(typeof DEV_SECRET_FILES)[number], () => string> = {
    'kek-1.key': () => `${randomBytes(32).toString('base64')}\n`,
    'signing-1.key': () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    'audit-hmac.key': () => `${randomBytes(32).toString('base64')}\n`,
  };
  for (const name of DEV_SECRET_FILES) {
    if (force || !(await exists(join(dir, name)))) await put(name, generators[name](), PRIVATE_MODE);
  }
  return { created: written.length > 0, written };
}

/**
 * Private keys of the demo issuers of dev mode (src/dev/demo/identities.ts): the demo IdP's,
 * which also signs the user tokens `npm run demo` mints, and the demo agent issuer's. Kept apart
 * from {@link ensureDevKeys} because only dev mode runs those issuers.
 */
export const DEV_DEMO_IDENTITY_FILES = ['demo-idp-signing.key', 'demo-agent-signing.key'] as const;

/** Creates each missing demo issuer key (P-256, for ES256) in `dir`. */
export async function ensureDemoIdentityKeys(dir: string): Promise<DevKeysResult> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  for (const name of DEV_DEMO_IDENTITY_FILES) {
    const path = join(dir, name);
    if (await exists(path)) continue;
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    await writeAtomically(path, key, PRIVATE_MODE);
    written.push(path);
  }
  return { created: written.length > 0, written };
}

function spiffeClient(name: string): { commonName: string; uris: string[]; clientAuth: true } {
  return { commonName: name, uris: [`spiffe://${DEV_TRUST_DOMAIN}/${name}`], clientAuth: true };
}

async function pkiUsable(dir: string): Promise<boolean> {
  for (const name of DEV_PKI_FILES) {
    let content: Buffer;
    try {
      content = await readFile(join(dir, name));
    } catch {
      return false;
    }
    if (!name.endsWith('.crt')) continue;
    try {
      const validTo = Date.parse(new X509Certificate(content).validTo);
      if (!(validTo - Date.now() > MIN_REMAINING_MS)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

// Write-then-rename never leaves a half-written key; chmod after write makes the mode umask-proof.
async function writeAtomically(path: string, content: string, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, content, { mode, flag: 'wx' });
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}
