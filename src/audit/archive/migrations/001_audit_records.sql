-- The audit archive: records moved out of Redis, append-only, one row per
-- (chain, seq). Applied by the owner role (src/audit/archive/migrate.ts); the
-- vault's runtime role gets SELECT and INSERT only (granted by migrate.ts).

-- Exactly the chain fields the Redis stream holds, so the archive verifies on
-- its own (src/audit/chain.ts): `body` is the canonical JSON as MACed, kept as
-- text because jsonb would re-serialise it. `time` is the record's own time
-- (from its body), so a record always lands in the same partition and the
-- same primary key: re-inserting it is a no-op (at-least-once delivery).
-- A primary key of a partitioned table must include the partition key, hence
-- (chain, seq, time); seq is unique per chain by construction of the archiver,
-- and a second row for one seq (an insert by someone else) is what verify
-- reports as out of order.
CREATE TABLE audit_records (
  chain integer NOT NULL,
  seq bigint NOT NULL,
  time timestamptz NOT NULL,
  prev text NOT NULL,
  hash text NOT NULL,
  body text NOT NULL,
  -- The consent pages' per-connection history beyond the Redis window.
  grant_id text GENERATED ALWAYS AS ((body::jsonb) ->> 'grant') STORED,
  PRIMARY KEY (chain, seq, time)
) PARTITION BY RANGE (time);

CREATE INDEX audit_records_grant ON audit_records (grant_id, chain, seq) WHERE grant_id IS NOT NULL;

-- Signed checkpoints (src/audit/checkpoint.ts) of heads the archive holds:
-- anchors for verifying the archive alone. `time` is text, byte-exact as MACed.
CREATE TABLE audit_checkpoints (
  chain integer NOT NULL,
  seq bigint NOT NULL,
  hash text NOT NULL,
  time text NOT NULL,
  mac text NOT NULL,
  PRIMARY KEY (chain, seq)
);

-- Monthly partitions (UTC), created ahead by the archiver, which may not
-- create tables itself: this function runs with its owner's rights and can
-- only add the partition of one month. The archive lives in schema public.
CREATE FUNCTION audit_ensure_partition(month date) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $fn$
DECLARE
  first date := date_trunc('month', month)::date;
  name text := 'audit_records_' || to_char(first, 'YYYY_MM');
BEGIN
  -- One creator at a time: two replicas racing on IF NOT EXISTS could both try.
  PERFORM pg_advisory_xact_lock(hashtext('tv audit_ensure_partition'));
  EXECUTE format(
    'CREATE TABLE IF NOT EXISTS public.%I PARTITION OF public.audit_records FOR VALUES FROM (%L) TO (%L)',
    name,
    first::timestamp AT TIME ZONE 'UTC',
    (first + interval '1 month')::timestamp AT TIME ZONE 'UTC'
  );
END
$fn$;

REVOKE ALL ON FUNCTION audit_ensure_partition(date) FROM PUBLIC;
