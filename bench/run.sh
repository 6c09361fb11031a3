#!/usr/bin/env bash
# One command for the whole benchmark (`make bench` calls this). See bench/README.md.
#
#   bench/run.sh                                  # full run: 2 interleaved passes, 20 s per point
#   QUICK=1 bench/run.sh                          # development: 1 pass, 5 s per point, short waits
#   TARGETS=direct,skein MODES=nonstream CONC=64 bench/run.sh
#   NGINX=1 LITELLM=1 bench/run.sh                # also install and run the nginx / LiteLLM anchors
#
# Knobs (environment): PASSES DURATION CONC MODES TARGETS WARMUP TTFT_DURATION PACE_MS
# QUICK NGINX LITELLM LATEST RIG_CPUS PROXY_CPUS UPSTREAM_PORT NICE PYTHON; extra arguments go
# to `python -m bench run`. Writes bench/results/<stamp>.{json,md}; a full run (not QUICK)
# also refreshes bench/results/latest.{json,md} unless LATEST=0.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-.venv/bin/python}
QUICK=${QUICK:-0}
if [[ "$QUICK" == 1 ]]; then
  PASSES=${PASSES:-1}; DURATION=${DURATION:-5}; WARMUP=${WARMUP:-1}; TTFT_DURATION=${TTFT_DURATION:-3}
  QUIET_WAIT=${QUIET_WAIT:-3}; RETRIES=${RETRIES:-0}; LATEST=${LATEST:-0}
fi
PASSES=${PASSES:-2}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
TTFT_DURATION=${TTFT_DURATION:-10}
QUIET_WAIT=${QUIET_WAIT:-30}
RETRIES=${RETRIES:-1}
LATEST=${LATEST:-1}
CONC=${CONC:-1,16,64}
MODES=${MODES:-nonstream,stream,mcp}
PACE_MS=${PACE_MS:-5}
RIG_CPUS=${RIG_CPUS:-0}      # wrk, SSE client, fake upstream
PROXY_CPUS=${PROXY_CPUS:-1}  # the proxy under test, alone
UPSTREAM_PORT=${UPSTREAM_PORT:-9000}
NICE=${NICE:--10}            # run the rig ahead of other jobs on a shared box (root only)
LITELLM_VENV=${LITELLM_VENV:-bench/run/venv-litellm}
export LITELLM_VENV

if [[ -z "${TARGETS:-}" ]]; then
  TARGETS=direct,skein,skein-guard,pyproxy-httpx,pyproxy-aiohttp,nginx
  [[ "${LITELLM:-0}" == 1 ]] && TARGETS="$TARGETS,litellm"
fi

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
apt_install() {
  echo "installing $* (apt-get)"
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

# --- prerequisites ------------------------------------------------------------------------------
[[ -x "$PYTHON" ]] || { echo "missing $PYTHON: create the project venv first (pip install -e '.[dev]')"; exit 1; }
command -v wrk >/dev/null || apt_install wrk || { echo "wrk is required (apt-get install wrk)"; exit 1; }
for tool in taskset ss; do
  command -v $tool >/dev/null || { echo "missing $tool (util-linux / iproute2)"; exit 1; }
done
if [[ "${NGINX:-0}" == 1 ]] && ! command -v nginx >/dev/null && [[ ! -x /usr/sbin/nginx ]]; then
  apt_install nginx-light || echo "could not install nginx-light: the nginx row will be skipped"
fi
if [[ "${LITELLM:-0}" == 1 && ! -x "$LITELLM_VENV/bin/litellm" ]]; then
  echo "installing LiteLLM into $LITELLM_VENV (heavy, once)"
  "$PYTHON" -m venv "$LITELLM_VENV"
  "$LITELLM_VENV/bin/pip" install -q 'litellm[proxy]'
fi
if (( $(nproc) < 2 )); then echo "warning: fewer than 2 CPUs, the pinning below is meaningless"; fi

# keep the scratch directories (configs, logs, Skein's audit DB) of the last 3 runs only
mkdir -p bench/run  # (a fresh clone has none; find would fail and stop the script)
find bench/run -mindepth 1 -maxdepth 1 -type d -name '2*' | sort | head -n -3 | xargs -r rm -rf

nice_prefix=()
if [[ $(id -u) == 0 && "$NICE" != 0 ]]; then nice_prefix=(nice -n "$NICE"); fi
latest=()
[[ "$LATEST" == 1 ]] && latest=(--latest)
quick=()
[[ "$QUICK" == 1 ]] && quick=(--quick)

# The driver itself sits on the rig CPU so that it never disturbs the proxy's core.
exec "${nice_prefix[@]}" taskset -c "$RIG_CPUS" "$PYTHON" -m bench run \
  --targets "$TARGETS" --modes "$MODES" --conc "$CONC" --passes "$PASSES" --duration "$DURATION" \
  --warmup "$WARMUP" --ttft-duration "$TTFT_DURATION" --pace-ms "$PACE_MS" --quiet-wait "$QUIET_WAIT" \
  --retries "$RETRIES" --rig-cpus "$RIG_CPUS" --proxy-cpus "$PROXY_CPUS" --upstream-port "$UPSTREAM_PORT" \
  --python "$PYTHON" "${quick[@]}" "${latest[@]}" "$@"
