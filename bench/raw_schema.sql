-- Raw PostgreSQL baseline tables (database `rawbench`, same cluster as Kiln's `kilnbench`).
-- psql -v doc=<the 1 KB workspace body Kiln stored> -v rows=N -f raw_schema.sql
-- Ids are md5(i)::uuid so that pgbench can pick a random existing row by its number.
DROP TABLE IF EXISTS bench_outbox;
DROP TABLE IF EXISTS bench_raw;
CREATE TABLE bench_raw (
    id   uuid PRIMARY KEY,
    body jsonb NOT NULL
);
CREATE TABLE bench_outbox (
    seq         bigserial PRIMARY KEY,
    event_id    uuid NOT NULL UNIQUE,
    resource_id uuid NOT NULL,
    payload     jsonb NOT NULL,
    created_at  bigint NOT NULL,
    sent_at     bigint
);
CREATE INDEX ix_bench_outbox_unsent ON bench_outbox (sent_at, seq);
INSERT INTO bench_raw (id, body)
SELECT md5(i::text)::uuid, :'doc'::jsonb FROM generate_series(1, :rows) AS i;
VACUUM ANALYZE bench_raw;
VACUUM ANALYZE bench_outbox;
