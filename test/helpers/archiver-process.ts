/**
 * One archiver as its own process (a replica's archiver without the rest of the vault), for the
 * multi-process archive test. Prints `ready` once started; SIGTERM stops it after its pass.
 *
 * Usage: node --import tsx test/helpers/archiver-process.ts '<json options>'
 */
import { createArchiver } from '../../src/audit/archive/archiver.js';
import { createArchivePool, PgAuditArchive } from '../../src/audit/archive/pg-archive.js';
import { auditStoreSource } from '../../src/audit/archive/source.js';
import { createRedisStores } from '../../src/store/redis/index.js';

interface Options {
  redisUrl: string;
  keyPrefix: string;
  pgUrl: string;
  batchSize: number;
  intervalMs: number;
  leaseMs: number;
  retentionMs: number;
}

const opts = JSON.parse(process.argv[2] ?? '{}') as Options;
const stores = createRedisStores({ url: opts.redisUrl, keyPrefix: opts.keyPrefix, auditChains: 1 });
const pool = createArchivePool({ connectionString: opts.pgUrl, poolSize: 2 });
const report = (what: string) => (obj: object, msg: string) => process.stderr.write(`${what} ${msg} ${JSON.stringify(obj)}\n`);
const archiver = createArchiver({
  source: auditStoreSource(stores.audit),
  archive: new PgAuditArchive(pool),
  locks: stores.locks,
  retentionMs: opts.retentionMs,
  lagWarnSeconds: 3600,
  batchSize: opts.batchSize,
  intervalMs: opts.intervalMs,
  leaseMs: opts.leaseMs,
  log: { warn: report('warn'), error: report('error') },
});
archiver.start();
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void archiver
    .stop()
    .then(() => Promise.all([stores.close(), pool.end()]))
    .finally(() => process.exit(0));
});
