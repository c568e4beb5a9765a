-- List: one 100-row keyset page of full rows, starting after a random existing id.
\set i random(1, :rows)
SELECT id, body FROM bench_raw WHERE id > CAST(md5(CAST(:i AS text)) AS uuid) ORDER BY id LIMIT 100;
