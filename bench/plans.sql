-- The plans Kiln's read statements get, as prepared statements run them (generic plans),
-- next to the raw ones. Statement texts as sea-orm sends them (seen with log_statement=all).
-- psql -v g1=<group key of bench-rg-1> -v k=<id_key of ws-0000500 in bench-rg-1> -f plans.sql
\pset pager off
SET plan_cache_mode = force_generic_plan;
PREPARE kiln_get(text, bigint) AS
  SELECT "resources"."id_key", "resources"."id", "resources"."subscription_key", "resources"."group_key",
         "resources"."parent_key", "resources"."type_key", "resources"."name", "resources"."kind_key",
         "resources"."location", "resources"."top_level", "resources"."depends_on_key", "resources"."body",
         "resources"."etag", "resources"."provisioning_state", "resources"."generation",
         "resources"."observed_generation", "resources"."created_at", "resources"."updated_at"
  FROM "resources" WHERE "resources"."id_key" = $1 LIMIT $2;
PREPARE kiln_decorate(text) AS
  SELECT "resources"."depends_on_key", "resources"."id" FROM "resources" WHERE "resources"."depends_on_key" IN ($1);
PREPARE kiln_list(text, text, text, bigint) AS
  SELECT "resources"."id_key", "resources"."id", "resources"."subscription_key", "resources"."group_key",
         "resources"."parent_key", "resources"."type_key", "resources"."name", "resources"."kind_key",
         "resources"."location", "resources"."top_level", "resources"."depends_on_key", "resources"."body",
         "resources"."etag", "resources"."provisioning_state", "resources"."generation",
         "resources"."observed_generation", "resources"."created_at", "resources"."updated_at"
  FROM "resources" WHERE "resources"."parent_key" = $1 AND "resources"."type_key" = $2
    AND "resources"."id_key" > $3 ORDER BY "resources"."id_key" ASC LIMIT $4;
\echo '--- Kiln GET: primary-key select'
EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) EXECUTE kiln_get(:'k', 1);
\echo '--- Kiln GET/list: hub decoration (projects of the hubs shown)'
EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) EXECUTE kiln_decorate(:'k');
\echo '--- Kiln list: one keyset page (LIMIT 101 = 100 + 1 to know whether there is a next page)'
EXPLAIN (ANALYZE, COSTS OFF, TIMING ON)
  EXECUTE kiln_list(:'g1', 'microsoft.machinelearningservices/workspaces', :'k', 101);
