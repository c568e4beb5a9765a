-- Create: insert the 1 KB row plus an outbox row carrying the same document, one
-- transaction, 4 round trips (BEGIN, 2 INSERTs, COMMIT).
BEGIN;
INSERT INTO bench_raw (id, body) VALUES (gen_random_uuid(), :doc) RETURNING id AS rid \gset
INSERT INTO bench_outbox (event_id, resource_id, payload, created_at)
    VALUES (gen_random_uuid(), :rid, :doc, CAST(extract(epoch FROM clock_timestamp()) * 1000 AS bigint));
END;
