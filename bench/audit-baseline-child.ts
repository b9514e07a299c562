/**
 * The writer process of bench/audit-contention.ts for its baseline rows: copied by that bench, with
 * bench/audit-load.ts, into a checkout of the commit before N chains (AUDIT_BASELINE_COMMIT there),
 * where it runs that commit's one-chain writer under the same load as the other rows.
 */
import { createAuditWriter } from '../src/audit/writer.js';
import { connectRedisStores } from '../src/store/redis/index.js';
import { runAuditLoad } from './audit-load.js';

const { URL: url, PREFIX: keyPrefix, KEY: key, C: callers, S: seconds } = process.env;
const stores = await connectRedisStores({ url: url!, keyPrefix: keyPrefix! });
const writer = createAuditWriter({ store: stores.audit, hmacKey: Buffer.from(key!, 'hex') });
await runAuditLoad((event) => writer.record(event), Number(callers), Number(seconds));
await stores.close();
process.exit(0);
