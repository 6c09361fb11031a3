#!/usr/bin/env bash
# Build and sign the sample bundle with a local dev key, so `make run` serves the signed path:
# the same verify-then-activate code as production, not the unsigned source directory.
#
#   .skein/keys/dev.pem, dev.pub.pem   an ES256 key, generated once (kid "dev")
#   .skein/bundle.tar.gz               policies/ + bundles/, built and signed with it
#
# Rebuilds only when the key or a file under policies/ or bundles/ is newer than the bundle.
# While `make run` is up, dev mode rebuilds on every edit by itself (bundle.dev_signing_key).
set -euo pipefail

BIN=${BIN:-.venv/bin}
STATE=${SKEIN_STATE_DIR:-.skein}
KEY=$STATE/keys/dev
BUNDLE=$STATE/bundle.tar.gz

if [ ! -f "$KEY.pem" ]; then
  "$BIN/skein" keys generate --alg ES256 --out "$KEY"
fi

stale() {
  [ ! -f "$BUNDLE" ] || [ "$KEY.pem" -nt "$BUNDLE" ] ||
    [ -n "$(find policies bundles -newer "$BUNDLE" -print -quit)" ]
}

if stale; then
  "$BIN/skein" bundle build --policies policies --data bundles --out "$BUNDLE"
  "$BIN/skein" bundle sign "$BUNDLE" --key "$KEY.pem" --kid dev
fi
