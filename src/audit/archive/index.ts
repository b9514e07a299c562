export { createArchiver, type Archiver, type ArchiverLog, type ArchiverOptions, type ChainLag } from './archiver.js';
export { migrateArchive, pendingMigrations, shippedMigrations } from './migrate.js';
export { createArchivePool, monthOf, PgAuditArchive, type ArchivePoolOptions } from './pg-archive.js';
export { auditStoreSource, type ArchiveEntry, type ArchiveSource } from './source.js';
export { tieredAuditStore } from './tiered-store.js';
export { verifyArchive, type ArchiveVerifyReport, type ArchiveTrailReport } from './verify-archive.js';
export { ArchiveOpenError, connectionRole, openArchive, type OpenArchiveOptions } from './open.js';
