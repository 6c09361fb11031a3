#!/usr/bin/env bash
# CLI start-up time: `skein --help` and `skein audit tail` (settings + a SQLite audit log),
# N runs each, median wall and median CPU (user+sys). CPU is the steadier figure on a busy
# machine. Usage: bench/cli_startup.sh [N]   (from the repository root, after `make setup`)
set -euo pipefail
N=${1:-15}
BIN=$(cd "${BIN:-.venv/bin}" && pwd)
STATE=$(mktemp -d)
trap 'rm -rf "$STATE"' EXIT
# A small real audit log where `skein audit tail` looks by default (.skein/audit.db), so it
# runs as in the README: no config file, no SKEIN_* variable.
mkdir -p "$STATE/.skein"
"$BIN/python" - "$STATE/.skein/audit.db" <<'PY'
import asyncio, sys
from pathlib import Path
from tests.audit.conftest import write_log
asyncio.run(write_log(Path(sys.argv[1]), 50))
PY

# Both commands must work before they are timed (a failing command would time its error).
"$BIN/skein" --help >/dev/null
(cd "$STATE" && "$BIN/skein" audit tail -n 1 >/dev/null)

measure() {
  local label=$1; shift
  for _ in $(seq "$N"); do
    /usr/bin/time -a -o "$STATE/times" -f "%e %U %S" "$@" >/dev/null 2>&1 || true
  done
  tail -n "$N" "$STATE/times" | awk -v label="$label" '
    { wall[NR] = $1; cpu[NR] = $2 + $3 }
    END {
      n = asort(wall); asort(cpu)
      printf "%-28s median wall %.3f s   median CPU %.3f s   (n=%d)\n", label, wall[int((n+1)/2)], cpu[int((n+1)/2)], n
    }'
}

measure "skein --help" "$BIN/skein" --help
(cd "$STATE" && measure "skein audit tail -n 5" "$BIN/skein" audit tail -n 5)
measure "python -c pass (floor)" "$BIN/python" -c pass
