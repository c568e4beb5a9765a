\pset pager off
SET plan_cache_mode = force_generic_plan;
PREPARE raw_get(text) AS SELECT id, body FROM bench_raw WHERE id = CAST(md5($1) AS uuid);
PREPARE raw_list(text) AS SELECT id, body FROM bench_raw WHERE id > CAST(md5($1) AS uuid) ORDER BY id LIMIT 100;
\echo '--- raw PK select'
EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) EXECUTE raw_get('500');
\echo '--- raw keyset page'
EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) EXECUTE raw_list('500');
