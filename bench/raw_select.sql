-- GET by id: primary-key select of one 1 KB JSONB row, random existing id.
\set i random(1, :rows)
SELECT id, body FROM bench_raw WHERE id = CAST(md5(CAST(:i AS text)) AS uuid);
