#!/usr/bin/env bash
# Operator-query timings on a large Postgres audit table (docs/operations-postgres-redis.md).
#   ROWS=20000000 bench/audit_index_bench.sh            # default 20 M rows, schema skein_idxbench
# Builds the real schema (gateway/audit/migrations/0001_audit.sql) in a scratch schema, fills
# it with synthetic events (500 principals, 9 roles, 8 models, 2 % denials, 90 days), then
# times the queries GET /audit and `skein audit query` run (newest 50, best of 5).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS=${ROWS:-20000000}
SCHEMA=${SCHEMA:-skein_idxbench}
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -h "${PGHOST:-127.0.0.1}" -U "${PGUSER:-postgres}" -d "${PGDATABASE:-test}")

"${PSQL[@]}" <<SQL
DROP SCHEMA IF EXISTS $SCHEMA CASCADE;
CREATE SCHEMA $SCHEMA;
SET search_path TO $SCHEMA;
$(sed -n '/CREATE TABLE audit_events/,/^);/p' gateway/audit/migrations/0001_audit.sql)
INSERT INTO audit_events (instance_id, seq, ts, sub, decision, reason, model, roles, event)
SELECT 'gw-' || (g % 4), g, 1790000000 + g * (7776000.0 / $ROWS),
       'user' || (g * 7919 % 500),
       CASE WHEN g % 50 = 0 THEN 'deny' ELSE 'allow' END,
       CASE WHEN g % 50 = 0 THEN 'model_not_allowed' ELSE NULL END,
       (ARRAY['gpt-4o','gpt-4o-mini','o3-mini','claude-3-5-sonnet','claude-3-5-haiku','llama3.2','echo','text-embedding-3-small'])[1 + g % 8],
       ARRAY[(ARRAY['finance','analyst','developer','hr','legal','manager','marketing','support','auditor'])[1 + g * 31 % 9]],
       '{"id":"' || md5(g::text) || '","route":"/v1/chat/completions","tokens_in":250,"tokens_out":40}'
FROM generate_series(1::bigint, $ROWS::bigint) AS g;
$(grep '^CREATE INDEX audit_events' gateway/audit/migrations/0001_audit.sql)
VACUUM ANALYZE audit_events;
SQL

time_query() {  # best of 5, in ms, from EXPLAIN ANALYZE's execution time
  local label=$1 where=$2 best=""
  for _ in 1 2 3 4 5; do
    ms=$("${PSQL[@]}" -t -A -c "SET search_path TO $SCHEMA; EXPLAIN (ANALYZE, FORMAT JSON) SELECT pos, event FROM audit_events $where ORDER BY pos DESC LIMIT 50" \
         | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Execution Time"])')
    best=$(python3 -c "print(min(float('$ms'), float('${best:-1e9}')))")
  done
  printf '| %s | %.2f ms |\n' "$label" "$best"
}

END=$(python3 -c "print(1790000000 + 7776000)")
echo "| query ($ROWS rows) | best of 5 |"
echo "|---|---:|"
time_query "newest 50, no filter" ""
time_query "one principal" "WHERE sub = 'user42'"
time_query "one principal, last day" "WHERE sub = 'user42' AND ts >= $END - 86400"
time_query "denials with a reason" "WHERE decision = 'deny' AND reason = 'model_not_allowed'"
time_query "one role" "WHERE roles @> ARRAY['legal']::text[]"
time_query "one model, last hour" "WHERE model = 'gpt-4o' AND ts >= $END - 3600"
time_query "one hour window" "WHERE ts >= $END - 7200 AND ts < $END - 3600"
time_query "deep page (before = middle)" "WHERE sub = 'user42' AND pos < $((ROWS / 2))"
"${PSQL[@]}" -c "DROP SCHEMA $SCHEMA CASCADE"
