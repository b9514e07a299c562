/**
 * The local spool of rotated refresh tokens not yet persisted in the store (src/grants/rotations.ts).
 * A provider that rotated a refresh token has already spent the old one (RFC 6749 §6, RFC 9700
 * §4.14.2): if the new one is lost, the grant is lost. So it is written here, to a local disk,
 * before the vault relies on it, and removed once the store holds it.
 *
 * One file per grant, `rotation-<sha256(grantId)>.json`, mode 0600 in a 0700 directory, written
 * to a temporary name, fsynced, renamed over, and the directory fsynced: a reader finds either the
 * whole previous file or the whole new one. Entries hold ciphertext only; sealing is the caller's.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** One spooled rotation: ids, the version it replaces, and the sealed refresh token (never plaintext). */
export interface SpooledRotation {
  grantId: string;
  userId: string;
  provider: string;
  /** The grant version the rotation was answered for (the compare-and-set's expected version). */
  baseVersion: number;
  /** The new refresh token, sealed with its spool AAD. */
  sealed: string;
  /** The refresh lock it was answered under (a random owner token, no secret), released once persisted. */
  lock?: { name: string; owner: string; ttlMs: number };
}

export interface RotationSpool {
  /** Durable on disk when it resolves (fsynced file and directory). */
  write(entry: SpooledRotation): Promise<void>;
  remove(grantId: string): Promise<void>;
  /** Every entry, and one problem line per file that could not be read (named by file, never content). */
  readAll(): Promise<{ entries: SpooledRotation[]; problems: string[] }>;
}

const PREFIX = 'rotation-';
const fileOf = (grantId: string) => `${PREFIX}${createHash('sha256').update(grantId).digest('base64url')}.json`;

export class FileRotationSpool implements RotationSpool {
  #ready: Promise<void> | undefined;

  constructor(private readonly dir: string) {}

  async write(entry: SpooledRotation): Promise<void> {
    await this.#mkdir();
    const target = join(this.dir, fileOf(entry.grantId));
    const temporary = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const file = await open(temporary, 'wx', 0o600);
    try {
      await file.writeFile(JSON.stringify({ v: 1, ...entry }));
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temporary, target);
    await this.#syncDir();
  }

  async remove(grantId: string): Promise<void> {
    await rm(join(this.dir, fileOf(grantId)), { force: true });
  }

  async readAll(): Promise<{ entries: SpooledRotation[]; problems: string[] }> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], problems: [] };
      throw err;
    }
    const entries: SpooledRotation[] = [];
    const problems: string[] = [];
    for (const name of names.filter((n) => n.startsWith(PREFIX) && n.endsWith('.json'))) {
      const entry = parse(await readFile(join(this.dir, name), 'utf8').catch(() => ''));
      if (entry && fileOf(entry.grantId) === name) entries.push(entry);
      else problems.push(`${name}: not a spooled rotation`);
    }
    return { entries, problems };
  }

  #mkdir(): Promise<void> {
    this.#ready ??= mkdir(this.dir, { recursive: true, mode: 0o700 }).then(() => undefined);
    return this.#ready;
  }

  async #syncDir(): Promise<void> {
    const dir = await open(this.dir, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

function parse(text: string): SpooledRotation | null {
  try {
    const raw = JSON.parse(text) as Record<string, unknown>;
    const { v, grantId, userId, provider, baseVersion, sealed, lock } = raw;
    if (v !== 1 || typeof grantId !== 'string' || typeof userId !== 'string' || typeof provider !== 'string') return null;
    if (typeof baseVersion !== 'number' || !Number.isInteger(baseVersion) || typeof sealed !== 'string') return null;
    const entry: SpooledRotation = { grantId, userId, provider, baseVersion, sealed };
    const l = lock as Record<string, unknown> | undefined;
    if (l && typeof l['name'] === 'string' && typeof l['owner'] === 'string' && typeof l['ttlMs'] === 'number') {
      entry.lock = { name: l['name'], owner: l['owner'], ttlMs: l['ttlMs'] };
    }
    return entry;
  } catch {
    return null;
  }
}

/** In-process twin (dev mode's memory store, unit tests): same interface, nothing survives the process. */
export class MemoryRotationSpool implements RotationSpool {
  readonly entries = new Map<string, SpooledRotation>();

  async write(entry: SpooledRotation): Promise<void> {
    this.entries.set(entry.grantId, { ...entry });
  }

  async remove(grantId: string): Promise<void> {
    this.entries.delete(grantId);
  }

  async readAll(): Promise<{ entries: SpooledRotation[]; problems: string[] }> {
    return { entries: [...this.entries.values()], problems: [] };
  }
}
