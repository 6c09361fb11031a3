#!/usr/bin/env bash
# The agent mesh demo (docs/controller.md): against a running gateway in dev mode (`make run`),
# finance's agent sends a $125,000 budget-approval task to the manager through the mesh's MCP
# tools, the manager's agent lists and approves it, finance's fetch_status shows it approved,
# and the audit trail is printed.
#
#   make run                       # terminal 1
#   deploy/scripts/demo-mesh.sh    # terminal 2
#
# DEMO_URL (default http://127.0.0.1:8080) and the gateway's settings (SKEIN_STATE_DIR...,
# for `skein token`) may be set; BIN is where skein and python live (default .venv/bin).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-.venv/bin}
URL=${DEMO_URL:-http://127.0.0.1:8080}
export SKEIN_DEV__ENABLED=true  # tokens from the dev key the gateway trusts in dev mode

token() { "$BIN/skein" token "$@"; }
ADMIN=$(token --sub root --role admin)
FINANCE=$(token --sub karen --role finance --email karen@company.com)  # reports to Bob
MANAGER=$(token --sub bob --role manager --email bob@company.com)
AUDITOR=$(token --sub eve --role auditor)

SINCE=$(date +%s)
echo "[admin] importing the org chart (deploy/scripts/demo_org_chart.csv)"
curl -fsS -X POST "$URL/api/v1/org/import" -H "authorization: Bearer $ADMIN" \
  -H "content-type: text/csv" --data-binary @deploy/scripts/demo_org_chart.csv
echo
exec "$BIN/python" deploy/scripts/demo_mesh.py --url "$URL" --since "$SINCE" \
  --finance "$FINANCE" --manager "$MANAGER" --auditor "$AUDITOR"
