/**
 * Key material from a directory: `keys/dev/` in dev, a mounted secret in production.
 *
 * The vault refuses to start on any defect (docs/architecture.md#secrets-at-rest), and the
 * error lists every defect at once so an operator fixes them in one round.
 * Messages name files and sizes, never content.
 */
import type { Stats } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { KEK_BYTES, Keyring, type KeyringEntry } from './keyring.js';
import { SigningKeys, importSigningKey, type SigningKey } from './signing-keys.js';

/** Everything the vault needs from its keys directory. */
export interface KeyMaterial {
  readonly keyring: Keyring;
  readonly signingKeys: SigningKeys;
  /** HMAC key of the audit hash chain. */
  readonly auditHmacKey: Uint8Array;
}

/** Key material is missing or unsafe; `problems` has one line per defect, each naming its file. */
export class KeyMaterialError extends Error {
  readonly code = 'TV_KEY_MATERIAL_INVALID';

  constructor(readonly problems: readonly string[]) {
    super(`key material rejected (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n- ${problems.join('\n- ')}`);
  }

  override get name(): string {
    return 'KeyMaterialError';
  }
}

/** Minimum length of the audit HMAC key (RFC 2104 §3: at least the hash output, 32 bytes for SHA-256). */
export const AUDIT_HMAC_MIN_BYTES = 32;

const AUDIT_FILE = 'audit-hmac.key';
const KEK_FILE = /^kek-(.+)\.key$/;
const SIGNING_FILE = /^signing-(.+)\.key$/;
// Leading zeros would let `kek-1.key` and `kek-01.key` name the same version differently.
const VERSION_ID = /^[1-9][0-9]{0,8}$/;
const MAX_KEY_FILE_BYTES = 64 * 1024;

/**
 * Loads and checks every key file in `dir`: `kek-<id>.key` (base64/base64url
 * of 32 bytes), `signing-<n>.key` (PKCS#8 PEM, highest n active) and
 * `audit-hmac.key` (base64 of at least 32 bytes). Every `*.key` file must be
 * private to its owner (no group or other permission bits).
 *
 * @throws {KeyMaterialError} listing every problem found.
 */
export async function loadKeyMaterial(dir: string): Promise<KeyMaterial> {
  const names = await listDir(dir);
  const problems: string[] = [];
  const keks: KeyringEntry[] = [];
  const signing: { n: number; key: SigningKey; file: string }[] = [];
  let auditHmacKey: Uint8Array | undefined;

  for (const name of names.filter((n) => n.endsWith('.key')).sort()) {
    const file = join(dir, name);
    const content = await readPrivateFile(file, problems);
    if (content === undefined) continue;
    try {
      const kek = KEK_FILE.exec(name);
      const sig = SIGNING_FILE.exec(name);
      if (kek?.[1] !== undefined) {
        if (!VERSION_ID.test(kek[1])) problems.push(`${file}: key id must be a decimal number without leading zeros`);
        const key = decodeKey(file, content, problems, { exact: KEK_BYTES, what: 'a KEK' });
        if (key !== undefined && VERSION_ID.test(kek[1])) keks.push({ id: kek[1], key });
      } else if (sig?.[1] !== undefined) {
        if (!VERSION_ID.test(sig[1])) problems.push(`${file}: key number must be a decimal number without leading zeros`);
        const key = await importSigningKey(content.toString('utf8')).catch(() => undefined);
        if (key === undefined) problems.push(`${file}: malformed: not a PKCS#8 PEM Ed25519 or P-256 private key`);
        else if (VERSION_ID.test(sig[1])) signing.push({ n: Number(sig[1]), key, file });
      } else if (name === AUDIT_FILE) {
        auditHmacKey = decodeKey(file, content, problems, { min: AUDIT_HMAC_MIN_BYTES, what: 'the audit HMAC key' });
      }
    } finally {
      content.fill(0);
    }
  }

  if (!names.some((n) => KEK_FILE.test(n))) problems.push(`${join(dir, 'kek-<id>.key')}: missing: no key-encryption key`);
  if (!names.some((n) => SIGNING_FILE.test(n))) problems.push(`${join(dir, 'signing-<n>.key')}: missing: no signing key`);
  if (!names.includes(AUDIT_FILE)) problems.push(`${join(dir, AUDIT_FILE)}: missing: no audit HMAC key`);
  signing.sort((a, b) => b.n - a.n);
  for (const [i, entry] of signing.entries()) {
    const first = signing.findIndex((other) => other.key.kid === entry.key.kid);
    if (first !== i) problems.push(`${entry.file}: same key as ${signing[first]?.file ?? 'another file'}`);
  }

  const [active, ...previous] = signing;
  if (problems.length > 0 || active === undefined || auditHmacKey === undefined) {
    for (const { key } of keks) key.fill(0);
    auditHmacKey?.fill(0);
    throw new KeyMaterialError(problems);
  }
  const keyring = new Keyring(keks);
  for (const { key } of keks) key.fill(0);
  return {
    keyring,
    signingKeys: new SigningKeys(
      active.key,
      previous.map((s) => s.key),
    ),
    auditHmacKey,
  };
}

/**
 * Reads a secret referenced from config (e.g. an OAuth client secret) with
 * the same permission check as key files. Returns the trimmed content.
 *
 * @throws {KeyMaterialError} when missing, accessible by group/others, empty or shorter than `minBytes`.
 */
export async function readSecretFile(path: string, options: { minBytes?: number } = {}): Promise<string> {
  const problems: string[] = [];
  const content = await readPrivateFile(path, problems);
  if (content === undefined) throw new KeyMaterialError(problems);
  const text = content.toString('utf8').trim();
  content.fill(0);
  const size = Buffer.byteLength(text, 'utf8');
  if (size === 0) problems.push(`${path}: empty`);
  else if (options.minBytes !== undefined && size < options.minBytes) problems.push(`${path}: too short: ${size} bytes, need at least ${options.minBytes}`);
  if (problems.length > 0) throw new KeyMaterialError(problems);
  return text;
}

async function listDir(dir: string): Promise<string[]> {
  let info: Stats;
  try {
    info = await stat(dir);
  } catch {
    throw new KeyMaterialError([`${dir}: missing: key directory not found`]);
  }
  if (!info.isDirectory()) throw new KeyMaterialError([`${dir}: not a directory`]);
  return readdir(dir);
}

/**
 * Reads a file that must be private to its owner. A permission problem is
 * recorded but the content is still returned, so its other defects are reported too.
 */
async function readPrivateFile(file: string, problems: string[]): Promise<Buffer | undefined> {
  let info: Stats;
  try {
    info = await stat(file);
  } catch {
    problems.push(`${file}: missing`);
    return undefined;
  }
  if (!info.isFile()) {
    problems.push(`${file}: not a regular file`);
    return undefined;
  }
  if ((info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, '0');
    problems.push(`${file}: permissions ${mode} give group/others access; run chmod 600`);
  }
  if (info.size > MAX_KEY_FILE_BYTES) {
    problems.push(`${file}: too large (${info.size} bytes)`);
    return undefined;
  }
  try {
    return await readFile(file);
  } catch {
    problems.push(`${file}: unreadable`);
    return undefined;
  }
}

type KeyLength = { exact: number; what: string } | { min: number; what: string };

/** Decodes base64 or base64url text (RFC 4648 §4, §5), a trailing newline allowed. */
function decodeKey(file: string, content: Buffer, problems: string[], length: KeyLength): Uint8Array | undefined {
  const text = content.toString('latin1').trim();
  if (text === '') {
    problems.push(`${file}: empty`);
    return undefined;
  }
  const decoded = Buffer.from(text, 'base64');
  try {
    const bare = text.replace(/=+$/, '');
    const canonical = [decoded.toString('base64'), decoded.toString('base64url')].map((s) => s.replace(/=+$/, ''));
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text) || !canonical.includes(bare)) {
      problems.push(`${file}: malformed: not base64 or base64url text`);
      return undefined;
    }
    const n = decoded.byteLength;
    const need = 'exact' in length ? length.exact : length.min;
    const qualifier = 'exact' in length ? 'exactly' : 'at least';
    if (n < need) problems.push(`${file}: too short: ${n} bytes, ${length.what} needs ${qualifier} ${need}`);
    else if ('exact' in length && n !== length.exact) problems.push(`${file}: wrong length: ${n} bytes, ${length.what} needs exactly ${need}`);
    else return Uint8Array.from(decoded);
    return undefined;
  } finally {
    decoded.fill(0);
  }
}
